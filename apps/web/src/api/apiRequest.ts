import { fetchSession } from '../auth/fetchSession.js'
import { sessionStore } from '../auth/sessionStore.js'
import { ApiError } from './ApiError.js'
import { sendRequest, type HttpMethod } from './sendRequest.js'

export interface ApiRequestOptions {
  method?: HttpMethod
  /** Sent as JSON; without it a request carries no body. */
  body?: unknown
  signal?: AbortSignal
}

/**
 * Sends a request to `/api/v1<path>` with the session cookie and returns the
 * parsed JSON body. Writes carry the session's X-CSRF-Token. When the
 * server rejects that token with 403 CSRF_FAILED (it changes when the
 * session is replaced, such as by a sign-in in another tab), the session is
 * read again and the request is retried once with the new token.
 */
export async function apiRequest<T>(path: string, options: ApiRequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET'
  const write = method !== 'GET'
  const csrfToken = write ? (sessionStore.getSnapshot().session?.csrfToken ?? null) : null
  try {
    return await sendRequest<T>(path, { ...options, method, csrfToken })
  } catch (error) {
    if (!write || !(error instanceof ApiError) || error.code !== 'CSRF_FAILED') throw error
  }
  const session = await fetchSession(options.signal)
  return sendRequest<T>(path, { ...options, method, csrfToken: session.csrfToken })
}
