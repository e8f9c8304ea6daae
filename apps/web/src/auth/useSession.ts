import { useSyncExternalStore } from 'react'
import { sessionStore, type SessionSnapshot } from './sessionStore.js'

/** Returns the sign-in status, the session and the reason for the last sign-out. */
export function useSession(): SessionSnapshot {
  return useSyncExternalStore(sessionStore.subscribe, sessionStore.getSnapshot)
}
