import { useMutation, useQueryClient } from '@tanstack/react-query'
import { queryKeys } from '../api/queryKeys.js'
import { sendRequest } from '../api/sendRequest.js'
import type { Session } from './session.js'
import { sessionStore } from './sessionStore.js'

/** The two bodies POST /api/v1/auth/login accepts. */
export type Credentials = { name: string; password: string } | { token: string }

/**
 * Signs in with POST /api/v1/auth/login, which sets the httpOnly session
 * cookie. A wrong name, password or token leaves the server's 401 message
 * in the mutation's error for the login form.
 */
export function useSignIn() {
  const queryClient = useQueryClient()
  return useMutation({
    mutationFn: (credentials: Credentials) => sendRequest<Session>('/auth/login', { method: 'POST', body: credentials }),
    onSuccess: (session) => {
      queryClient.setQueryData(queryKeys.session, session)
      sessionStore.signIn(session)
    },
  })
}
