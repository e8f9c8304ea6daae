import { useSyncExternalStore } from 'react'
import { tokenStore, type TokenSnapshot } from './tokenStore.js'

/** Returns the signed-in token and the reason for the last sign-out. */
export function useToken(): TokenSnapshot {
  return useSyncExternalStore(tokenStore.subscribe, tokenStore.getSnapshot)
}
