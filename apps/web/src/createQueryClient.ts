import { MutationCache, QueryCache, QueryClient } from '@tanstack/react-query'
import { ApiError, isUnauthorized } from './api/ApiError.js'
import { tokenStore } from './auth/tokenStore.js'

/**
 * Creates the query client. A 401 on any request after sign-in means the
 * token was revoked or the server restarted with another one, so the
 * dashboard signs out and shows the server's message on the login form.
 */
export function createQueryClient(): QueryClient {
  const signOutOnUnauthorized = (error: unknown) => {
    if (!isUnauthorized(error) || tokenStore.getSnapshot().token === null) return
    tokenStore.signOut(`Signed out: ${(error as Error).message}`)
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
