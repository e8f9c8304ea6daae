import { sendRequest } from '../api/sendRequest.js'
import type { Session } from './session.js'
import { sessionStore } from './sessionStore.js'

/**
 * Reads the session behind the cookie with GET /api/v1/auth/session, which
 * also renews it, and stores it. Rejects with the server's 401 when the
 * cookie is missing or the session has lapsed.
 */
export async function fetchSession(signal?: AbortSignal): Promise<Session> {
  const session = await sendRequest<Session>('/auth/session', { signal })
  // A sign-out while the request ran wins over its late response.
  if (sessionStore.getSnapshot().status !== 'signedOut') sessionStore.signIn(session)
  return session
}
