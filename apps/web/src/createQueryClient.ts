import { MutationCache, QueryCache, QueryClient } from '@tanstack/react-query'
import { ApiError, isUnauthorized } from './api/ApiError.js'
import { sessionStore } from './auth/sessionStore.js'

/**
 * Creates the query client. A 401 on any request means the session lapsed,
 * was signed out elsewhere or its user was disabled, so the dashboard shows
 * the login form with the server's message. The first session check of a
 * page load shows no message, because no one was signed in yet.
 */
export function createQueryClient(): QueryClient {
  const signOutOnUnauthorized = (error: unknown) => {
    const { status } = sessionStore.getSnapshot()
    if (status === 'signedOut') return
    // The server lets a valid session through a rate-limited address, so
    // RATE_LIMITED also means the cookie failed. The server counts a page
    // load without a cookie as a failure, so even the first check can get
    // it. A valid token still signs in while the address is limited.
    const limited = error instanceof ApiError && error.code === 'RATE_LIMITED'
    if (!isUnauthorized(error) && !limited) return
    const message = (error as Error).message
    if (status === 'signedIn') sessionStore.signOut(`Signed out: ${message}`)
    else sessionStore.signOut(limited ? message : null)
    queryClient.clear()
  }
  const queryClient: QueryClient = new QueryClient({
    queryCache: new QueryCache({ onError: signOutOnUnauthorized }),
    mutationCache: new MutationCache({ onError: signOutOnUnauthorized }),
    defaultOptions: {
      queries: {
        // A 4xx will not fix itself on retry; a network error might.
        retry: (failureCount, error) => {
          const clientError = error instanceof ApiError && error.status >= 400 && error.status < 500
          return !clientError && failureCount < 3
        },
        refetchOnWindowFocus: true,
      },
    },
  })
  return queryClient
}
