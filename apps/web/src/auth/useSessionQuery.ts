import { useQuery } from '@tanstack/react-query'
import { queryKeys } from '../api/queryKeys.js'
import { fetchSession } from './fetchSession.js'
import { renewDelay } from './renewDelay.js'
import type { Session } from './session.js'
import type { SessionStatus } from './sessionStore.js'

/**
 * Reads the session at start and renews it shortly before `expiresAt`. The
 * server slides the expiry on every request, so a busy tab's renewal only
 * learns the later expiry, and an idle tab's keeps the session alive. A 401
 * goes through the query cache's handler, which shows the login form.
 */
export function useSessionQuery(status: SessionStatus) {
  return useQuery<Session>({
    queryKey: queryKeys.session,
    queryFn: ({ signal }) => fetchSession(signal),
    enabled: status !== 'signedOut',
    staleTime: Infinity,
    refetchOnWindowFocus: false,
    refetchInterval: (query) => {
      const session = query.state.data
      return session === undefined ? false : renewDelay(session.expiresAt, Date.now())
    },
    // Background tabs still renew, or a hidden dashboard would lapse.
    refetchIntervalInBackground: true,
  })
}
