// Every error the API sends. Each code has one HTTP status and one message
// template, and every error body is `{ error: CODE, message }`. Errors from
// the supervisor carry their own `code` and `statusCode` and pass through
// unchanged (SERVICE_NOT_FOUND 404, PROFILE_NOT_FOUND 404, INVALID_STATE 409).

import type { FastifyError } from 'fastify'

export interface ErrorBody {
  error: string
  message: string
}

const definitions = {
  /** A query, path parameter or body that fails its JSON schema. */
  INVALID_REQUEST: { status: 400, message: (detail: string) => detail },
  /** No bearer token, or one that matches no unrevoked token. */
  UNAUTHORIZED: {
    status: 401,
    message: (reason: string) => `${reason}; send the header "Authorization: Bearer TOKEN" with a token from \`blackhole token create\``,
  },
  /** A viewer token used for anything but GET. */
  FORBIDDEN: {
    status: 403,
    message: (detail: string) => detail,
  },
  /** A state-changing request authenticated by a session cookie without the session's X-CSRF-Token. */
  CSRF_FAILED: {
    status: 403,
    message: (method: string) =>
      `${method} with a session cookie needs the X-CSRF-Token header from POST /api/v1/auth/login or GET /api/v1/auth/session`,
  },
  /** A route the API does not have, or a dashboard page when the dashboard is not built. */
  NOT_FOUND: { status: 404, message: (route: string, hint: string) => `route ${route} not found; ${hint}` },
  /** A profile name not in the config. */
  PROFILE_NOT_FOUND: {
    status: 404,
    message: (name: string, known: string) => `profile "${name}" not found; known profiles: ${known}`,
  },
  /** A plain HTTP request to the WebSocket route. */
  UPGRADE_REQUIRED: {
    status: 426,
    message: (route: string) => `${route} is a WebSocket; connect with a WebSocket client and send {"type":"auth","token":"..."} first`,
  },
  /** A request body over the body limit. */
  PAYLOAD_TOO_LARGE: {
    status: 413,
    message: (limit: number) => `request body too large; the limit is ${limit} bytes`,
  },
  /** A request body in a format other than JSON. */
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: (type: string) => `unsupported content type "${type}"; send application/json`,
  },
  /** Too many failed token checks from one address within a minute. */
  RATE_LIMITED: {
    status: 429,
    message: (seconds: number) => `too many failed authentication attempts from this address; retry in ${seconds} s`,
  },
  /** A fault in the server; details go to the log, not to the client. */
  INTERNAL_ERROR: { status: 500, message: (requestId: string) => `internal server error; see the server log for request ${requestId}` },
} as const

export type ErrorCode = keyof typeof definitions

type MessageArgs<C extends ErrorCode> = Parameters<(typeof definitions)[C]['message']>

/** An error the API sends as `{ error: code, message }` with the code's status. */
export class ApiError extends Error {
  readonly code: string
  readonly statusCode: number
  /** Response headers that go with the error, such as retry-after. */
  readonly headers: Record<string, string> = {}

  constructor(code: string, statusCode: number, message: string) {
    super(message)
    this.name = 'ApiError'
    this.code = code
    this.statusCode = statusCode
  }

  body(): ErrorBody {
    return { error: this.code, message: this.message }
  }
}

export function apiError<C extends ErrorCode>(code: C, ...args: MessageArgs<C>): ApiError {
  const definition = definitions[code]
  const message = (definition.message as (...values: MessageArgs<C>) => string)(...args)
  return new ApiError(code, definition.status, message)
}

/** Returns true for errors raised with a stable code and an HTTP status, such as the supervisor's. */
export function isCodedError(error: unknown): error is Error & { code: string; statusCode: number } {
  if (!(error instanceof Error)) return false
  const { code, statusCode } = error as { code?: unknown; statusCode?: unknown }
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code) && typeof statusCode === 'number'
}

interface ValidationIssue {
  instancePath: string
  keyword: string
  message?: string
  params: Record<string, unknown>
}

/** Names the field a schema error is about, such as `querystring.limit`. */
function describeValidation(context: string | undefined, issues: ValidationIssue[]): string {
  const issue = issues[0]
  if (issue === undefined) return 'invalid request'
  const where = context ?? 'request'
  const path = issue.instancePath.replace(/^\//, '').replace(/\//g, '.')
  if (issue.keyword === 'additionalProperties') {
    const field = String(issue.params.additionalProperty)
    return `${where}.${path === '' ? field : `${path}.${field}`}: unknown field; remove it`
  }
  if (issue.keyword === 'required') {
    return `${where}.${String(issue.params.missingProperty)}: missing required field`
  }
  return `${where}${path === '' ? '' : `.${path}`}: ${issue.message ?? 'invalid value'}`
}

/** Maps any error thrown while handling a request to the status and body sent. */
export function toErrorResponse(error: FastifyError | Error, requestId: string, bodyLimit: number): { status: number; body: ErrorBody } {
  if (error instanceof ApiError) return { status: error.statusCode, body: error.body() }
  const fastifyError = error as FastifyError
  if (fastifyError.validation) {
    const known = apiError('INVALID_REQUEST', describeValidation(fastifyError.validationContext, fastifyError.validation as ValidationIssue[]))
    return { status: known.statusCode, body: known.body() }
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': {
      const known = apiError('PAYLOAD_TOO_LARGE', bodyLimit)
      return { status: known.statusCode, body: known.body() }
    }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': {
      const known = apiError('UNSUPPORTED_MEDIA_TYPE', error.message.replace(/^Unsupported Media Type:?\s*/i, ''))
      return { status: known.statusCode, body: known.body() }
    }
  }
  if (isCodedError(error) && error.statusCode >= 400 && error.statusCode < 500) {
    return { status: error.statusCode, body: { error: error.code, message: error.message } }
  }
  // Fastify's own client errors (bad JSON, a bad content length) keep their
  // status; their messages name the problem.
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return { status: fastifyError.statusCode, body: { error: 'INVALID_REQUEST', message: error.message } }
  }
  const known = apiError('INTERNAL_ERROR', requestId)
  return { status: known.statusCode, body: known.body() }
}
