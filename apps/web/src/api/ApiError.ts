/**
 * A failed API request. `code` is the server's machine-readable `error`
 * (such as SERVICE_NOT_FOUND) and `message` its human message, so the UI
 * can show the server's own words. Status 0 means no HTTP response arrived.
 */
export class ApiError extends Error {
  readonly status: number
  readonly code: string
  /** The whole error body, for fields beyond error and message (such as a list of profile errors). */
  details: Record<string, unknown> | null = null

  constructor(status: number, code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ApiError'
    this.status = status
    this.code = code
  }
}

export function isUnauthorized(error: unknown): boolean {
  return error instanceof ApiError && error.status === 401
}

/** Returns a message fit for display from anything a query or mutation threw. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
