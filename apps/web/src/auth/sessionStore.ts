import type { Session } from './session.js'

// The signed-in session lives in this module's memory only. The session id
// is in an httpOnly cookie the page cannot read, and the CSRF token is
// never written to localStorage or sessionStorage, so a reload requests
// the session again with GET /api/v1/auth/session. useSession reads this
// framework-free store with useSyncExternalStore.

export type SessionStatus = 'loading' | 'signedOut' | 'signedIn'

export interface SessionSnapshot {
  status: SessionStatus
  session: Session | null
  /** Reason the session ended, shown on the login form (such as a 401 message). */
  notice: string | null
}

type Listener = () => void

const listeners = new Set<Listener>()
let snapshot: SessionSnapshot = { status: 'loading', session: null, notice: null }

function publish(next: SessionSnapshot): void {
  snapshot = next
  for (const listener of listeners) listener()
}

export const sessionStore = {
  getSnapshot(): SessionSnapshot {
    return snapshot
  },

  subscribe(listener: Listener): () => void {
    listeners.add(listener)
    return () => listeners.delete(listener)
  },

  /** Stores a session from login or GET /api/v1/auth/session. */
  signIn(session: Session): void {
    publish({ status: 'signedIn', session, notice: null })
  },

  /** Forgets the session; `notice` explains why on the login form. */
  signOut(notice: string | null = null): void {
    publish({ status: 'signedOut', session: null, notice })
  },
}
