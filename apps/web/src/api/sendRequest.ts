import { ApiError } from './ApiError.js'

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

export interface SendRequestOptions {
  method?: HttpMethod
  /** Sent as JSON; without it a request carries no body. */
  body?: unknown
  /** Sent as X-CSRF-Token, which the server requires on cookie-authenticated writes. */
  csrfToken?: string | null
  signal?: AbortSignal
}

interface ErrorBody {
  error: string
  message: string
}

function isErrorBody(body: unknown): body is ErrorBody {
  if (typeof body !== 'object' || body === null) return false
  const record = body as Record<string, unknown>
  return typeof record.error === 'string' && typeof record.message === 'string'
}

/**
 * Sends one request to `/api/v1<path>` with the session cookie and returns
 * the parsed JSON body. Rejects with an ApiError carrying the server's
 * `error` code and message, or a NETWORK_ERROR when the server cannot be
 * reached. apiRequest adds the session's CSRF token and its retry.
 */
export async function sendRequest<T>(path: string, options: SendRequestOptions = {}): Promise<T> {
  const method = options.method ?? 'GET'
  const url = `/api/v1${path}`
  const headers: Record<string, string> = { accept: 'application/json' }
  if (options.csrfToken) headers['x-csrf-token'] = options.csrfToken

  let response: Response
  try {
    // No body and no content-type unless one is given: the actions take no
    // payload, and Fastify rejects an empty body declared as JSON.
    const init: RequestInit = { method, headers, signal: options.signal, credentials: 'same-origin' }
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json'
      init.body = JSON.stringify(options.body)
    }
    response = await fetch(url, init)
  } catch (error) {
    if (options.signal?.aborted) throw error
    const reason = error instanceof Error ? error.message : String(error)
    throw new ApiError(
      0,
      'NETWORK_ERROR',
      `${method} ${url} failed: ${reason}. Check that the Blackhole server is running.`,
      { cause: error },
    )
  }

  const text = await response.text()
  let body: unknown = null
  if (text !== '') {
    try {
      body = JSON.parse(text)
    } catch {
      body = text
    }
  }

  if (!response.ok) {
    if (isErrorBody(body)) {
      const error = new ApiError(response.status, body.error, body.message)
      error.details = body as unknown as Record<string, unknown>
      throw error
    }
    const status = `${response.status} ${response.statusText}`.trim()
    throw new ApiError(response.status, `HTTP_${response.status}`, `${method} ${url} returned ${status}`)
  }
  return body as T
}
