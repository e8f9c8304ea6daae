import { useMutation } from '@tanstack/react-query'
import { apiRequest } from '../api/apiRequest.js'
import { tokenStore } from './tokenStore.js'

/**
 * Checks a token against GET /api/v1/host before keeping it, so a wrong
 * token shows the server's 401 message on the login form.
 */
export function useSignIn() {
  return useMutation({
    mutationFn: async (token: string) => {
      await apiRequest<unknown>('/host', { token })
      return token
    },
    onSuccess: (token) => tokenStore.signIn(token),
  })
}
