import { timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { findToken, type Role, type TokenIdentity } from '../db/tokens.js'
import type { Session, SessionStore, UserStore } from '../db/users.js'
import type { PrismaClient } from '../generated/prisma/client.js'
import type { AuditLogPort } from './ports.js'
import { apiError } from './errors.js'
import { clientCertificateSubject } from './tls.js'

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
  /** Checks a session cookie's id; throws the ApiError to send when it fails. */
  checkSession(sessionId: string, context: AuthContext): Promise<SessionIdentity>
  /** Checks a name and password; returns the user's name and role or throws UNAUTHORIZED. */
  checkPassword(name: string, password: string, context: AuthContext): Promise<{ name: string; role: Role }>
}

/** A session's identity: `identity.name` is the user or token name, `id` the token's id or 0 for a user. */
export interface SessionIdentity {
  identity: TokenIdentity
  session: Session
}

/** Stores the authenticator reads users and sessions from. */
export interface AccessStores {
  users: UserStore
  sessions: SessionStore
}

/** Name of the cookie that carries the browser session id. */
export const SESSION_COOKIE = 'blackhole_session'

/** Returns a cookie's value from a Cookie header, or null. */
export function cookieValue(header: string | undefined, name: string): string | null {
  if (header === undefined) return null
  for (const part of header.split(';')) {
    const index = part.indexOf('=')
    if (index < 0) continue
    if (part.slice(0, index).trim() === name) return part.slice(index + 1).trim()
  }
  return null
}

/** Compares two strings in time that depends only on their lengths. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8')
  const right = Buffer.from(b, 'utf8')
  return left.length === right.length && timingSafeEqual(left, right)
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

export function createAuthenticator(
  prisma: PrismaClient,
  audit: AuditLogPort,
  limiter = new FailureLimiter(),
  stores: AccessStores | null = null,
): Authenticator {
  async function recordFailure(context: AuthContext, reason: string, metadata: Record<string, unknown> = {}) {
    await audit.append({
      type: 'AUTH_FAILED',
      severity: 'medium',
      description: `authentication failed from ${context.address}: ${reason}`,
      metadata: { address: context.address, method: context.method, url: context.url, reason, ...metadata },
      actor: null,
    })
  }

  async function rejectIfLimited(context: AuthContext): Promise<void> {
    const waitMs = limiter.retryAfterMs(context.address)
    if (waitMs <= 0) return
    // Only the first 429 of a lockout is recorded, so a guessing client
    // cannot flood the audit log.
    const earlier = limiter.recordRejection(context.address)
    if (earlier === 0) await recordFailure(context, 'rate limited', { rateLimited: true })
    const seconds = Math.ceil(waitMs / 1000)
    const limited = apiError('RATE_LIMITED', seconds)
    limited.headers['retry-after'] = String(seconds)
    throw limited
  }

  async function fail(context: AuthContext, reason: string, metadata: Record<string, unknown> = {}): Promise<never> {
    const failures = limiter.recordFailure(context.address)
    await recordFailure(context, reason, { failuresInWindow: failures, ...metadata })
    throw apiError('UNAUTHORIZED', reason)
  }

  return {
    // A valid token or session passes even while its address is rate
    // limited: tokens and session ids are random and too long to guess, so
    // the limit only has to stop failures, and another local user sending
    // bad tokens from the same loopback address cannot lock the admin out.
    async check(token, context) {
      // No credential at all is not a guess: a signed-out dashboard requests
      // its session on every load, and recording that would rate-limit
      // password sign-in from the operator's own address.
      if (token === null) throw apiError('UNAUTHORIZED', 'missing bearer token')
      const identity = await findToken(prisma, token)
      if (identity !== null && stores?.users.tokenOwnerDisabled(identity.id) !== true) return identity
      await rejectIfLimited(context)
      if (token === null) return fail(context, 'missing bearer token')
      if (identity === null) return fail(context, 'invalid or revoked token')
      return fail(context, 'token owner is disabled')
    },

    async checkSession(sessionId, context) {
      const session = stores?.sessions.find(sessionId) ?? null
      if (session === null) {
        await rejectIfLimited(context)
        return fail(context, 'invalid or expired session; sign in again')
      }
      const name = session.subject.slice(session.subject.indexOf(':') + 1)
      return { identity: { id: session.tokenId ?? 0, name, role: session.role }, session }
    },

    async checkPassword(name, password, context) {
      await rejectIfLimited(context)
      const user = stores === null ? null : await stores.users.authenticate(name, password)
      if (user !== null) return { name: user.name, role: user.role }
      // The reason does not say whether the name exists.
      return fail(context, 'invalid user name or password, or the user is disabled', { user: name })
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
    /** The browser session when the request was authenticated by its cookie; null otherwise. */
    session: Session | null
  }
  interface FastifyContextConfig {
    /** True for routes that need no token: health and the WebSocket, which authenticates in its first message. */
    public?: boolean
    /** The minimum role the route needs; viewer when not set (viewers still send only GET). */
    role?: Role
    /** True for a route outside /api/ that still needs a token or session, such as /metrics. */
    authenticate?: boolean
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
  if (request.routeOptions.config?.authenticate === true) return true
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

const ROLE_RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 }

/** Returns true when `role` is `least` or above. */
export function hasRole(role: Role, least: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[least]
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Returns the onRequest hook: every route under /api/ needs a token unless
 * its config marks it public. A bearer token wins over a session cookie.
 * A cookie-authenticated request that changes state must carry the
 * session's X-CSRF-Token, because a browser sends the cookie on requests
 * that other sites start; bearer requests are exempt since no other site
 * can make a browser attach the header.
 */
export function authHook(authenticator: Authenticator) {
  return async (request: FastifyRequest): Promise<void> => {
    if (!needsToken(request)) return
    const context = { address: request.ip, method: request.method, url: request.url }
    const token = bearerToken(request.headers.authorization)
    const sessionId = token === null ? cookieValue(request.headers.cookie, SESSION_COOKIE) : null
    if (sessionId !== null && sessionId !== '') {
      const { identity, session } = await authenticator.checkSession(sessionId, context)
      request.identity = identity
      request.session = session
      request.actor = session.subject
      request.role = session.role
      if (!SAFE_METHODS.has(request.method)) {
        const header = request.headers['x-csrf-token']
        if (typeof header !== 'string' || !safeEqual(header, session.csrfToken)) {
          throw apiError('CSRF_FAILED', request.method)
        }
      }
    } else {
      const identity = await authenticator.check(token, context)
      request.identity = identity
      request.actor = `token:${identity.name}`
      request.role = identity.role
    }
    const role = request.role!
    const separator = request.actor!.indexOf(':')
    const caller = `${request.actor!.slice(0, separator)} "${request.actor!.slice(separator + 1)}"`
    if (role === 'viewer' && !SAFE_METHODS.has(request.method)) {
      throw apiError('FORBIDDEN', `${caller} has the viewer role, which may only send GET requests`)
    }
    const least = request.routeOptions.config?.role
    if (least !== undefined && !hasRole(role, least)) {
      throw apiError('FORBIDDEN', `${caller} has the ${role} role; ${request.method} ${request.routeOptions.url} needs ${least} or above`)
    }
    // Under mutual TLS the certificate names the machine or person and the
    // token or session names the account, so the audit actor keeps both.
    const certificate = clientCertificateSubject(request)
    if (certificate !== null) request.actor = `cert:${certificate}/${request.actor}`
  }
}

/** Returns the actor recorded in audit events for an API call, such as `token:admin`. */
export function actorOf(request: FastifyRequest): string {
  return request.actor ?? 'api'
}
