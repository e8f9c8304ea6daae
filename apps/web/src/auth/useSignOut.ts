import { useMutation, useQueryClient } from '@tanstack/react-query'
import { apiRequest } from '../api/apiRequest.js'
import { sessionStore } from './sessionStore.js'

/**
 * Ends the session with POST /api/v1/auth/logout, then clears it and
 * every cached response. A failed logout leaves the dashboard signed in
 * with the error, because the cookie would still work.
 */
export function useSignOut() {
  const queryClient = useQueryClient()
  return useMutation({
    mutationFn: () => apiRequest<{ signedOut: boolean }>('/auth/logout', { method: 'POST' }),
    onSuccess: () => {
      sessionStore.signOut()
      queryClient.clear()
    },
  })
}
