import { existsSync } from 'node:fs'
import { join } from 'node:path'
import fastifyStatic from '@fastify/static'
import fastifyWebsocket from '@fastify/websocket'
import type { Config } from '@blackhole/policy'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type Database from 'better-sqlite3'
import { SessionStore, TokenStore, UserStore } from '../db/users.js'
import type { PrismaClient } from '../generated/prisma/client.js'
import { registerAccessRoutes } from './access.js'
import { MetricsCollector, registerMetrics } from './metrics.js'
import { httpsServerOptions, type TlsOptions } from './tls.js'
import { authHook, createAuthenticator, FailureLimiter } from './auth.js'
import { apiError, ApiError, toErrorResponse } from './errors.js'
import { cachedHostFacts, type HostFacts } from './host.js'
import { RequestLogController } from './logging.js'
import { collectOpenApi } from './openapi.js'
import type { AuditLogPort, SupervisorPort } from './ports.js'
import { registerRoutes } from './routes.js'
import { auditRoutes } from './routes/audit.js'
import { eventsExportRoutes } from './routes/events-export.js'
import { learnRoutes } from './routes/learn.js'
import { profileRoutes } from './routes/profiles.js'
import { reportRoutes } from './routes/report.js'
import { serviceDetailRoutes } from './routes/service-detail.js'
import { AUTH_TIMEOUT_MS, registerStream, SLOW_CLIENT_BUFFER_LIMIT } from './stream.js'

export const BODY_LIMIT = 64 * 1024

export interface ServerOptions {
  config: Config
  prisma: PrismaClient
  /** A better-sqlite3 connection to the same database, for users, sessions and tokens. */
  database: Database.Database
  audit: AuditLogPort
  supervisor: SupervisorPort
  /** Passed to Fastify: false for none, true or pino options for a logger. */
  logger?: FastifyServerOptions['logger']
  /** The built dashboard (apps/web/dist); null or a folder without index.html serves none. */
  webRoot?: string | null
  hostFacts?: () => Promise<HostFacts>
  /** Failed-token limiter; tests pass their own to control the clock. */
  limiter?: FailureLimiter
  /** Time a WebSocket client has to send its auth message, in milliseconds (5000 by default). */
  streamAuthTimeoutMs?: number
  /** Unsent bytes after which a stream client is closed; tests lower it. */
  streamSlowClientLimit?: number
  /** Serve HTTPS with these settings; plain HTTP when absent. */
  tls?: TlsOptions
}

/**
 * Builds the Fastify instance with every route, the auth hook and the
 * dashboard, without listening, so tests can call `inject`.
 */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.tls === undefined ? {} : { https: httpsServerOptions(options.tls) }),
    logger: options.logger ?? false,
    bodyLimit: BODY_LIMIT,
    logController: new RequestLogController(),
    ajv: {
      // Unknown query fields are errors, not silently dropped, and a query
      // value is coerced from its string form to the type its schema declares.
      customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false },
    },
  })
  app.decorateRequest('identity', null)
  app.decorateRequest('actor', null)
  app.decorateRequest('role', null)
  app.decorateRequest('session', null)

  const stores = { users: new UserStore(options.database), sessions: new SessionStore(options.database) }
  const tokens = new TokenStore(options.database)
  const authenticator = createAuthenticator(options.prisma, options.audit, options.limiter, stores)
  app.addHook('onRequest', authHook(authenticator))

  app.addHook('onSend', async (request, reply) => {
    void reply.header('x-content-type-options', 'nosniff')
    void reply.header('x-frame-options', 'DENY')
    void reply.header('referrer-policy', 'no-referrer')
    // API responses describe live state and may follow a token check, so no
    // cache, shared or private, may keep them.
    if (request.url.startsWith('/api/')) void reply.header('cache-control', 'no-store')
  })

  // POST actions carry no body; an empty JSON body is accepted as none.
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string
    if (text.trim() === '') {
      done(null, undefined)
      return
    }
    try {
      done(null, JSON.parse(text))
    } catch (error) {
      const invalid = apiError('INVALID_REQUEST', `body: invalid JSON (${(error as Error).message})`)
      done(invalid, undefined)
    }
  })

  app.setErrorHandler((error, request, reply) => {
    const { status, body } = toErrorResponse(error as Error, request.id, BODY_LIMIT)
    if (status >= 500) request.log.error({ err: error }, 'request handler failed')
    if (error instanceof ApiError) void reply.headers(error.headers)
    void reply.status(status).send(body)
  })

  collectOpenApi(app)
  await app.register(fastifyWebsocket, { options: { maxPayload: 64 * 1024 } })
  registerRoutes(app, {
    config: options.config,
    prisma: options.prisma,
    audit: options.audit,
    supervisor: options.supervisor,
    hostFacts: options.hostFacts ?? cachedHostFacts(),
    startedAt: Date.now(),
  })
  registerAccessRoutes(app, { ...stores, tokens, authenticator, audit: options.audit })
  registerMetrics(app, new MetricsCollector(options.audit, options.supervisor))
  await app.register(profileRoutes, { config: options.config, prisma: options.prisma, audit: options.audit, supervisor: options.supervisor })
  await app.register(learnRoutes, { config: options.config, prisma: options.prisma, audit: options.audit, supervisor: options.supervisor })
  await app.register(reportRoutes, { config: options.config, database: options.database, audit: options.audit })
  await app.register(auditRoutes, { audit: options.audit })
  await app.register(serviceDetailRoutes, { supervisor: options.supervisor })
  await app.register(eventsExportRoutes, { audit: options.audit })
  registerStream(app, {
    authenticator,
    audit: options.audit,
    supervisor: options.supervisor,
    authTimeoutMs: options.streamAuthTimeoutMs ?? AUTH_TIMEOUT_MS,
    slowClientLimit: options.streamSlowClientLimit ?? SLOW_CLIENT_BUFFER_LIMIT,
  })

  const webRoot = options.webRoot ?? null
  const dashboard = webRoot !== null && existsSync(join(webRoot, 'index.html'))
  if (dashboard) await app.register(fastifyStatic, { root: webRoot, wildcard: true })

  app.setNotFoundHandler((request, reply) => {
    const route = `${request.method} ${request.url.split('?')[0]}`
    // Paths outside the API belong to the dashboard's client-side router.
    if (dashboard && (request.method === 'GET' || request.method === 'HEAD') && !request.url.startsWith('/api/')) {
      return reply.type('text/html').sendFile('index.html')
    }
    const hint =
      request.url.startsWith('/api/') || dashboard
        ? 'the API lives under /api/v1'
        : 'the dashboard is not built, so run `pnpm build` to serve it'
    const notFound = apiError('NOT_FOUND', route, hint)
    return reply.status(notFound.statusCode).send(notFound.body())
  })

  return app
}
