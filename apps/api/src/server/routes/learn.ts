// Learn mode routes: start a permissive run of a service, read its session
// and proposal, and apply the proposal as a new profile version.

import type { Config } from '@blackhole/policy'
import type { FastifyPluginAsync } from 'fastify'
import type { PrismaClient } from '../../generated/prisma/client.js'
import { LearnManager, MAX_LEARN_SECONDS, MIN_LEARN_SECONDS, type LearnSupervisor } from '../../learn/session.js'
import { actorOf } from '../auth.js'
import type { AuditLogPort, SupervisorPort } from '../ports.js'
import { requireRole, serviceNameParams } from './access.js'

export interface LearnRoutesOptions {
  config: Config
  prisma: PrismaClient
  audit: AuditLogPort
  /** The real Supervisor, whose start takes the enforce mode override learn mode needs. */
  supervisor: SupervisorPort
}

/** Learn run length when the request names none, in seconds. */
export const DEFAULT_LEARN_SECONDS = 60

const learnBody = {
  type: 'object',
  properties: { durationSeconds: { type: 'integer', minimum: MIN_LEARN_SECONDS, maximum: MAX_LEARN_SECONDS } },
  additionalProperties: false,
} as const

// No query parameters: a stray one is a mistake, and rejecting it keeps a
// malformed request from starting a sandbox.
const noQuery = { type: 'object', properties: {}, additionalProperties: false } as const

export const learnRoutes: FastifyPluginAsync<LearnRoutesOptions> = async (app, options) => {
  const { supervisor } = options
  // SupervisorPort declares start without options; Supervisor.start takes
  // them, and the session checks the SERVICE_STARTED record's mode.
  const learnSupervisor: LearnSupervisor = {
    get: (name) => supervisor.get(name),
    start: (name, actor, startOptions) => supervisor.start(name, actor, startOptions),
    stop: (name, actor) => supervisor.stop(name, actor),
  }
  const manager = new LearnManager({ config: options.config, prisma: options.prisma, audit: options.audit, supervisor: learnSupervisor })
  app.addHook('onClose', async () => manager.close())

  app.post<{ Params: { name: string }; Body: { durationSeconds?: number } | undefined }>(
    '/api/v1/services/:name/learn',
    { schema: { params: serviceNameParams, querystring: noQuery, body: learnBody } },
    async (request, reply) => {
      // Learn mode runs the service without seccomp enforcement, so it needs admin like a profile change.
      requireRole(request, 'admin', 'start learn mode')
      const { name } = request.params
      const { session, done } = await manager.start(name, request.body?.durationSeconds ?? DEFAULT_LEARN_SECONDS, actorOf(request))
      done.catch((error: unknown) => request.log.error({ err: error, service: name }, 'learn session failed'))
      return reply.status(202).send({ session, message: `learning ${name} until ${session.endsAt}; read the proposal with GET /api/v1/services/${name}/learn` })
    },
  )

  app.get<{ Params: { name: string } }>('/api/v1/services/:name/learn', { schema: { params: serviceNameParams } }, async (request) => {
    const { name } = request.params
    supervisor.get(name)
    const latest = await manager.latest(name)
    return { service: name, session: latest?.session ?? null, applied: latest?.applied ?? null }
  })

  app.post<{ Params: { name: string } }>('/api/v1/services/:name/learn/apply', { schema: { params: serviceNameParams, querystring: noQuery } }, async (request) => {
    requireRole(request, 'admin', 'apply a learned profile')
    const { name } = request.params
    supervisor.get(name)
    return manager.apply(name, actorOf(request))
  })
}
