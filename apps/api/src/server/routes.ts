import type { Config, EnforceMode, Profile } from '@blackhole/policy'
import type { FastifyInstance } from 'fastify'
import { currentProfileYaml } from '../db/profiles.js'
import type { PrismaClient } from '../generated/prisma/client.js'
import { SEVERITIES, type Severity } from '../types.js'
import { actorOf } from './auth.js'
import { apiError } from './errors.js'
import type { HostFacts } from './host.js'
import { SERVICE_ACTIONS, type AuditLogPort, type ServiceAction, type SupervisorPort } from './ports.js'

export const VERSION = '0.1.0'

export interface RouteDependencies {
  config: Config
  prisma: PrismaClient
  audit: AuditLogPort
  supervisor: SupervisorPort
  hostFacts: () => Promise<HostFacts>
  startedAt: number
}

const nameParams = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1, maxLength: 64 } },
  required: ['name'],
  additionalProperties: false,
} as const

const emptyQuery = { type: 'object', properties: {}, additionalProperties: false } as const

const enforceModeBody = {
  type: 'object',
  properties: { mode: { type: 'string', enum: ['enforce', 'permissive', 'disabled'] } },
  required: ['mode'],
  additionalProperties: false,
} as const

/** Throws INVALID_REQUEST for a body other than none or `{}`: actions take no body. */
function rejectBody(body: unknown): void {
  if (body === undefined || body === null) return
  if (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0) return
  throw apiError('INVALID_REQUEST', 'body: actions take no body; send none or {}')
}

const graceQuery = {
  type: 'object',
  properties: { graceMs: { type: 'integer', minimum: 0, maximum: 300_000 } },
  additionalProperties: false,
} as const

const eventsQuery = {
  type: 'object',
  properties: {
    service: { type: 'string', minLength: 1, maxLength: 64 },
    type: { type: 'string', pattern: '^[A-Z][A-Z0-9_]{0,63}$' },
    severity: { type: 'string', enum: SEVERITIES },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    before: { type: 'integer', minimum: 1 },
    since: { type: 'string', format: 'date-time' },
    until: { type: 'string', format: 'date-time' },
  },
  additionalProperties: false,
} as const

interface NameParams {
  name: string
}

interface EventsQuery {
  service?: string
  type?: string
  severity?: Severity
  limit: number
  before?: number
  since?: string
  until?: string
}

function profileSummary(profile: Profile) {
  return {
    name: profile.name,
    user: profile.user,
    group: profile.group,
    capabilities: profile.capabilities,
    enforceMode: profile.enforceMode,
    networkMode: profile.network.mode,
  }
}

async function runAction(
  supervisor: SupervisorPort,
  action: ServiceAction,
  name: string,
  actor: string,
  graceMs: number | undefined,
): Promise<void> {
  switch (action) {
    case 'terminate':
      await supervisor.terminate(name, actor, graceMs === undefined ? {} : { graceMs })
      return
    case 'stop':
      await supervisor.stop(name, actor, graceMs === undefined ? {} : { graceMs })
      return
    case 'isolate':
      await supervisor.isolate(name, actor, `requested by ${actor}`)
      return
    case 'block':
      await supervisor.block(name, actor, `requested by ${actor}`)
      return
    default:
      await supervisor[action](name, actor)
  }
}

/** Registers the REST routes under /api/v1. */
export function registerRoutes(app: FastifyInstance, deps: RouteDependencies): void {
  const { config, prisma, audit, supervisor } = deps

  app.get('/api/v1/health', { config: { public: true } }, async () => ({
    status: 'ok',
    version: VERSION,
    uptimeSeconds: Math.floor((Date.now() - deps.startedAt) / 1000),
  }))

  app.get('/api/v1/services', async () => supervisor.list())

  app.get<{ Params: NameParams }>('/api/v1/services/:name', { schema: { params: nameParams } }, async (request) =>
    supervisor.get(request.params.name),
  )

  // Weakening a service's seccomp mode is a policy decision, so it needs admin.
  app.post<{ Params: NameParams; Body: { mode: EnforceMode } }>(
    '/api/v1/services/:name/enforce-mode',
    {
      config: { role: 'admin' },
      schema: { params: nameParams, querystring: emptyQuery, body: enforceModeBody },
    },
    async (request) => {
      const { name } = request.params
      supervisor.get(name)
      await supervisor.setEnforceMode(name, request.body.mode, actorOf(request))
      return { service: supervisor.get(name) }
    },
  )

  for (const action of SERVICE_ACTIONS) {
    app.post<{ Params: NameParams; Querystring: { graceMs?: number } }>(
      `/api/v1/services/:name/${action}`,
      {
        config: { role: 'operator' },
        schema: { params: nameParams, querystring: action === 'terminate' || action === 'stop' ? graceQuery : emptyQuery },
      },
      async (request) => {
        const { name } = request.params
        rejectBody(request.body)
        // get() throws SERVICE_NOT_FOUND before anything is attempted.
        supervisor.get(name)
        await runAction(supervisor, action, name, actorOf(request), request.query.graceMs)
        return { service: supervisor.get(name) }
      },
    )
  }

  app.get<{ Querystring: EventsQuery }>('/api/v1/events', { schema: { querystring: eventsQuery } }, async (request) => {
    const { service, type, severity, limit, before, since, until } = request.query
    // Stored times are ISO 8601 UTC, so a normalised bound compares as text.
    return audit.query({
      service, type, severity, limit, before,
      since: since === undefined ? undefined : new Date(since).toISOString(),
      until: until === undefined ? undefined : new Date(until).toISOString(),
    })
  })

  app.get('/api/v1/profiles', async () => Object.values(config.profiles).map(profileSummary))

  app.get<{ Params: NameParams }>('/api/v1/profiles/:name', { schema: { params: nameParams } }, async (request) => {
    const { name } = request.params
    const profile = Object.hasOwn(config.profiles, name) ? config.profiles[name] : undefined
    if (profile === undefined) {
      const known = Object.keys(config.profiles)
      throw apiError('PROFILE_NOT_FOUND', name, known.length === 0 ? 'none' : known.join(', '))
    }
    return { name, profile, yaml: await currentProfileYaml(prisma, name) }
  })

  app.get('/api/v1/host', async () => deps.hostFacts())
}

/** The part of the resource history the history route reads. */
export interface HistorySource {
  range(service: string, from: number, to: number): unknown
}

const HOUR_MS = 60 * 60 * 1000

const historyQuery = {
  type: 'object',
  properties: {
    from: { type: 'integer', minimum: 0 },
    to: { type: 'integer', minimum: 0 },
  },
  additionalProperties: false,
} as const

/**
 * Registers GET /api/v1/services/:name/history?from=&to= (milliseconds since
 * the epoch; the last hour by default): per-second samples while they are
 * in memory, one-minute aggregates for older periods.
 */
export function registerHistoryRoute(app: FastifyInstance, supervisor: SupervisorPort, history: HistorySource): void {
  app.get<{ Params: NameParams; Querystring: { from?: number; to?: number } }>(
    '/api/v1/services/:name/history',
    { schema: { params: nameParams, querystring: historyQuery } },
    async (request) => {
      const { name } = request.params
      supervisor.get(name)
      const to = request.query.to ?? Date.now()
      const from = request.query.from ?? to - HOUR_MS
      if (from > to) throw apiError('INVALID_REQUEST', `querystring.from: ${from} is after to (${to}); swap them`)
      return history.range(name, from, to)
    },
  )
}
