// Users, tokens and browser sessions over the API: GET/POST /api/v1/users,
// PATCH /api/v1/users/:name, GET/POST /api/v1/tokens, DELETE
// /api/v1/tokens/:id, and POST /api/v1/auth/login, POST /api/v1/auth/logout,
// GET /api/v1/auth/session.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { cookieValue, hasRole, SESSION_COOKIE, type AccessStores, type Authenticator } from './auth.js'
import { ROLES, type Role } from '../db/tokens.js'
import { MAX_PASSWORD_LENGTH, StoreError, USER_NAME, type TokenStore } from '../db/users.js'
import { apiError } from './errors.js'
import type { AuditLogPort } from './ports.js'

export interface AccessDependencies extends AccessStores {
  tokens: TokenStore
  authenticator: Authenticator
  audit: AuditLogPort
}

const nameProperty = { type: 'string', pattern: USER_NAME.source } as const
const roleProperty = { type: 'string', enum: ROLES } as const
const passwordProperty = { type: 'string', minLength: 1, maxLength: MAX_PASSWORD_LENGTH } as const

const userParams = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1, maxLength: 64 } },
  required: ['name'],
  additionalProperties: false,
} as const

const createUserBody = {
  type: 'object',
  properties: { name: nameProperty, role: roleProperty, password: passwordProperty },
  required: ['name', 'role', 'password'],
  additionalProperties: false,
} as const

const updateUserBody = {
  type: 'object',
  properties: { role: roleProperty, disabled: { type: 'boolean' }, password: passwordProperty },
  minProperties: 1,
  additionalProperties: false,
} as const

const createTokenBody = {
  type: 'object',
  properties: { name: nameProperty, role: roleProperty, user: nameProperty },
  required: ['name', 'role'],
  additionalProperties: false,
} as const

const tokenParams = {
  type: 'object',
  properties: { id: { type: 'integer', minimum: 1, maximum: 2_147_483_647 } },
  required: ['id'],
  additionalProperties: false,
} as const

const loginBody = {
  type: 'object',
  properties: { name: nameProperty, password: passwordProperty, token: { type: 'string', minLength: 1, maxLength: 256 } },
  additionalProperties: false,
} as const

interface LoginBody {
  name?: string
  password?: string
  token?: string
}

const admin = { role: 'admin' as Role }

/** Sets or clears the session cookie. Secure is set when the request came over TLS. */
function setSessionCookie(request: FastifyRequest, reply: FastifyReply, value: string | null): void {
  const attributes = ['Path=/', 'HttpOnly', 'SameSite=Strict']
  if (request.protocol === 'https') attributes.push('Secure')
  // No Max-Age: the server enforces the expiry, and the cookie ends with the browser session.
  if (value === null) attributes.push('Max-Age=0')
  void reply.header('set-cookie', [`${SESSION_COOKIE}=${value ?? ''}`, ...attributes].join('; '))
}

export function registerAccessRoutes(app: FastifyInstance, deps: AccessDependencies): void {
  const { users, tokens, sessions, audit, authenticator } = deps

  const record = (request: FastifyRequest, type: string, description: string, metadata: Record<string, unknown>) =>
    audit.append({ type, severity: 'info', description, metadata, actor: request.actor ?? 'api' })

  app.get('/api/v1/users', { config: admin }, async () => users.list())

  app.post<{ Body: { name: string; role: Role; password: string } }>(
    '/api/v1/users',
    { config: admin, schema: { body: createUserBody } },
    async (request, reply) => {
      const { name, role, password } = request.body
      const user = await users.create(name, role, password)
      await record(request, 'USER_CREATED', `user "${name}" created with the ${role} role`, { user: name, role })
      return reply.status(201).send(user)
    },
  )

  app.patch<{ Params: { name: string }; Body: { role?: Role; disabled?: boolean; password?: string } }>(
    '/api/v1/users/:name',
    { config: admin, schema: { params: userParams, body: updateUserBody } },
    async (request) => {
      const { name } = request.params
      const { role, disabled, password } = request.body
      const user = await users.update(name, { role, disabled, password })
      const changed = { role, disabled, passwordChanged: password !== undefined }
      await record(request, 'USER_UPDATED', `user "${name}" changed`, { user: name, ...changed })
      return user
    },
  )

  app.get('/api/v1/tokens', { config: admin }, async () => tokens.list())

  app.post<{ Body: { name: string; role: Role; user?: string } }>(
    '/api/v1/tokens',
    { config: admin, schema: { body: createTokenBody } },
    async (request, reply) => {
      const { name, role, user } = request.body
      if (user !== undefined) {
        const owner = users.get(user)
        if (owner === null) throw new StoreError('USER_NOT_FOUND', 404, `user "${user}" not found; create it with POST /api/v1/users`)
        if (!hasRole(owner.role, role)) {
          throw apiError('INVALID_REQUEST', `body.role: "${role}" is above the ${owner.role} role of user "${user}"; choose ${owner.role} or lower`)
        }
      }
      const created = tokens.create(name, role, user ?? null)
      await record(request, 'TOKEN_CREATED', `token "${name}" created with the ${role} role`, { tokenId: created.info.id, name, role, user })
      // The secret is in this response only; the database keeps its SHA-256.
      return reply.status(201).send({ ...created.info, token: created.token })
    },
  )

  app.delete<{ Params: { id: number } }>(
    '/api/v1/tokens/:id',
    { config: admin, schema: { params: tokenParams } },
    async (request) => {
      const revoked = tokens.revoke(request.params.id)
      await record(request, 'TOKEN_REVOKED', `token "${revoked.name}" revoked`, { tokenId: revoked.id, name: revoked.name })
      return revoked
    },
  )

  app.post<{ Body: LoginBody | undefined }>(
    '/api/v1/auth/login',
    { config: { public: true }, schema: { body: loginBody } },
    async (request, reply) => {
      const body = request.body ?? {}
      const context = { address: request.ip, method: request.method, url: request.url }
      let subject: string
      let role: Role
      let owner: { userName?: string; tokenId?: number }
      if (body.token !== undefined && body.name === undefined && body.password === undefined) {
        const identity = await authenticator.check(body.token, context)
        subject = `token:${identity.name}`
        role = identity.role
        owner = { tokenId: identity.id }
      } else if (body.name !== undefined && body.password !== undefined && body.token === undefined) {
        const user = await authenticator.checkPassword(body.name, body.password, context)
        subject = `user:${user.name}`
        role = user.role
        owner = { userName: user.name }
      } else {
        throw apiError('INVALID_REQUEST', 'body: send either {"name","password"} or {"token"}')
      }
      const { id, session } = sessions.create(subject, role, owner)
      setSessionCookie(request, reply, id)
      await audit.append({
        type: 'AUTH_LOGIN',
        severity: 'info',
        description: `${subject} signed in from ${request.ip}`,
        metadata: { address: request.ip, subject, role },
        actor: subject,
      })
      return { user: subject.slice(subject.indexOf(':') + 1), subject, role, csrfToken: session.csrfToken, expiresAt: session.expiresAt }
    },
  )

  app.post('/api/v1/auth/logout', async (request, reply) => {
    // The auth hook set request.session only when the cookie authenticated the request.
    const sessionId = request.session === null ? null : cookieValue(request.headers.cookie, SESSION_COOKIE)
    if (sessionId !== null) {
      sessions.delete(sessionId)
      setSessionCookie(request, reply, null)
      await record(request, 'AUTH_LOGOUT', `${request.actor} signed out`, { subject: request.actor })
    }
    return { signedOut: sessionId !== null }
  })

  app.get('/api/v1/auth/session', async (request) => {
    const actor = request.actor!
    return {
      user: actor.slice(actor.indexOf(':') + 1),
      subject: actor,
      role: request.role,
      csrfToken: request.session?.csrfToken ?? null,
      expiresAt: request.session?.expiresAt ?? null,
    }
  })
}
