// The bearer token lives in sessionStorage so it survives a reload but not
// the closing of the tab. This store is framework-free; useToken reads it
// with useSyncExternalStore.

const storageKey = 'blackhole.token'

export interface TokenSnapshot {
  token: string | null
  /** Reason the session ended, shown on the login form (such as a 401 message). */
  notice: string | null
}

type Listener = () => void

const listeners = new Set<Listener>()
let snapshot: TokenSnapshot = { token: readStoredToken(), notice: null }

function readStoredToken(): string | null {
  try {
    return sessionStorage.getItem(storageKey)
  } catch {
    // Storage can be disabled by browser policy; the token then lasts
    // until the page reloads.
    return null
  }
}

function writeStoredToken(token: string | null): void {
  try {
    if (token === null) sessionStorage.removeItem(storageKey)
    else sessionStorage.setItem(storageKey, token)
  } catch {
    // See readStoredToken.
  }
}

function publish(next: TokenSnapshot): void {
  snapshot = next
  for (const listener of listeners) listener()
}

export const tokenStore = {
  getSnapshot(): TokenSnapshot {
    return snapshot
  },

  subscribe(listener: Listener): () => void {
    listeners.add(listener)
    return () => listeners.delete(listener)
  },

  signIn(token: string): void {
    writeStoredToken(token)
    publish({ token, notice: null })
  },

  /** Forgets the token; `notice` explains why on the login form. */
  signOut(notice: string | null = null): void {
    writeStoredToken(null)
    publish({ token: null, notice })
  },
}
