import type { FastifyRequest } from 'fastify'
import { findToken, type Role, type TokenIdentity } from '../db/tokens.js'
import type { PrismaClient } from '../generated/prisma/client.js'
import type { AuditLogPort } from './ports.js'
import { apiError } from './errors.js'

export const FAILURE_LIMIT = 10
export const FAILURE_WINDOW_MS = 60_000
// Bounds the limiter's memory when failures come from many addresses.
const MAX_TRACKED_ADDRESSES = 10_000

interface AddressFailures {
  /** Times of the failures within the window, oldest first. */
  times: number[]
  /** Requests rejected with 429 since the last AUTH_FAILED record for this address. */
  suppressed: number
}

/**
 * Counts failed token checks per client address over a sliding minute.
 * After FAILURE_LIMIT failures the address gets 429 until the oldest of
 * them leaves the window, valid token or not, so guessing stays slow.
 */
export class FailureLimiter {
  private readonly addresses = new Map<string, AddressFailures>()

  constructor(
    private readonly limit = FAILURE_LIMIT,
    private readonly windowMs = FAILURE_WINDOW_MS,
  ) {}

  /** Returns the milliseconds until the address may try again, or 0 when it is not limited. */
  retryAfterMs(address: string, now = Date.now()): number {
    const entry = this.addresses.get(address)
    if (entry === undefined) return 0
    this.expire(entry, now)
    if (entry.times.length < this.limit) return 0
    return entry.times[0]! + this.windowMs - now
  }

  /** Records a failure and returns how many the address has within the window. */
  recordFailure(address: string, now = Date.now()): number {
    let entry = this.addresses.get(address)
    if (entry === undefined) {
      if (this.addresses.size >= MAX_TRACKED_ADDRESSES) this.prune(now)
      entry = { times: [], suppressed: 0 }
      this.addresses.set(address, entry)
    }
    this.expire(entry, now)
    entry.times.push(now)
    return entry.times.length
  }

  /** Counts a 429 and returns how many came before it since the last recorded one. */
  recordRejection(address: string): number {
    const entry = this.addresses.get(address)
    if (entry === undefined) return 0
    return entry.suppressed++
  }

  private expire(entry: AddressFailures, now: number): void {
    while (entry.times.length > 0 && entry.times[0]! <= now - this.windowMs) entry.times.shift()
    if (entry.times.length < this.limit) entry.suppressed = 0
  }

  private prune(now: number): void {
    for (const [address, entry] of this.addresses) {
      this.expire(entry, now)
      if (entry.times.length === 0) this.addresses.delete(address)
    }
  }
}

export interface Authenticator {
  /** Checks a token presented by `address`; throws the ApiError to send when it fails. */
  check(token: string | null, context: AuthContext): Promise<TokenIdentity>
}

export interface AuthContext {
  address: string
  method: string
  url: string
}

/** Returns the token from an `Authorization: Bearer TOKEN` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header)
  return match ? match[1]! : null
}

export function createAuthenticator(prisma: PrismaClient, audit: AuditLogPort, limiter = new FailureLimiter()): Authenticator {
  async function recordFailure(context: AuthContext, reason: string, metadata: Record<string, unknown> = {}) {
    await audit.append({
      type: 'AUTH_FAILED',
      severity: 'medium',
      description: `authentication failed from ${context.address}: ${reason}`,
      metadata: { address: context.address, method: context.method, url: context.url, reason, ...metadata },
      actor: null,
    })
  }

  return {
    async check(token, context) {
      const waitMs = limiter.retryAfterMs(context.address)
      if (waitMs > 0) {
        // Only the first 429 of a lockout is recorded, so a guessing client
        // cannot flood the audit log.
        const earlier = limiter.recordRejection(context.address)
        if (earlier === 0) await recordFailure(context, 'rate limited', { rateLimited: true })
        const seconds = Math.ceil(waitMs / 1000)
        const limited = apiError('RATE_LIMITED', seconds)
        limited.headers['retry-after'] = String(seconds)
        throw limited
      }
      const identity = token === null ? null : await findToken(prisma, token)
      if (identity !== null) return identity
      const reason = token === null ? 'missing bearer token' : 'invalid or revoked token'
      const failures = limiter.recordFailure(context.address)
      await recordFailure(context, reason, { failuresInWindow: failures })
      throw apiError('UNAUTHORIZED', reason)
    },
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The token that authenticated this request; null on public routes. */
    identity: TokenIdentity | null
    /** `token:<name>` of that token, the actor in audit records; null on public routes. */
    actor: string | null
    /** That token's role; null on public routes. */
    role: Role | null
  }
  interface FastifyContextConfig {
    /** True for routes that need no token: health and the WebSocket, which authenticates in its first message. */
    public?: boolean
  }
}

/**
 * Returns true when a request needs a token. The decision uses the matched
 * route's pattern, not the raw URL: the router decodes percent-escapes, so
 * `/%61pi/v1/services` reaches the /api/v1/services handler while its raw
 * URL does not start with /api/. A request that matched no route is judged
 * by its decoded path, so an unknown API route gets 401 before 404.
 */
export function needsToken(request: FastifyRequest): boolean {
  if (request.routeOptions.config?.public === true) return false
  const pattern = request.routeOptions.url
  if (pattern !== undefined) return pattern.startsWith('/api/')
  const path = request.url.split('?')[0]!
  let decoded: string
  try {
    decoded = decodeURIComponent(path)
  } catch {
    decoded = path
  }
  return decoded.replace(/\/+/g, '/').startsWith('/api/')
}

/** Returns the onRequest hook: every route under /api/ needs a token unless its config marks it public. */
export function authHook(authenticator: Authenticator) {
  return async (request: FastifyRequest): Promise<void> => {
    if (!needsToken(request)) return
    const identity = await authenticator.check(bearerToken(request.headers.authorization), {
      address: request.ip,
      method: request.method,
      url: request.url,
    })
    request.identity = identity
    request.actor = `token:${identity.name}`
    request.role = identity.role
    if (identity.role === 'viewer' && request.method !== 'GET' && request.method !== 'HEAD') {
      throw apiError('FORBIDDEN', `token "${identity.name}" has the viewer role, which may only send GET requests`)
    }
  }
}

/** Returns the actor recorded in audit events for an API call, such as `token:admin`. */
export function actorOf(request: FastifyRequest): string {
  return request.actor ?? 'api'
}
