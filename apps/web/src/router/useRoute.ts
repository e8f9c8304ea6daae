import { useSyncExternalStore } from 'react'
import { parseRoute, type Route } from './parseRoute.js'

function subscribe(listener: () => void): () => void {
  window.addEventListener('hashchange', listener)
  return () => window.removeEventListener('hashchange', listener)
}

const readHash = () => window.location.hash

/**
 * Returns the route in the URL hash. A hash router needs no server
 * fallback and keeps the back button working between pages.
 */
export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, readHash)
  return parseRoute(hash)
}
