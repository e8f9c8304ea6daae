// REST routes for incidents and detection rules. The server registers this
// plugin under /api/v1 behind its bearer-token hook, which records the
// caller's token on the request.

import { open, rename } from 'node:fs/promises'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { AuditSink, IncidentStatus, IncidentStore } from './incidents.js'
import { INCIDENT_STATUSES, IncidentStateError, MAX_INCIDENT_LIST_LIMIT } from './incidents.js'
import type { DetectionEngine } from './engine.js'
import { formatRuleError, MAX_RULES_FILE_BYTES, parseRules } from './rules.js'

export interface DetectionRoutesOptions {
  engine: DetectionEngine
  incidents: IncidentStore
  audit: AuditSink
  /** File that PUT /rules rewrites so new rules survive a restart; null keeps them in memory only. */
  rulesFile?: string | null
}

type Role = 'admin' | 'operator' | 'viewer'

const OPERATOR_ROLES: readonly Role[] = ['operator', 'admin']
const ADMIN_ROLES: readonly Role[] = ['admin']
const YAML_CONTENT_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml']
/** Name shown in rule errors for YAML sent through the API. */
const REQUEST_RULES_FILE = 'rules.yaml'

const INCIDENT_QUERY_KEYS = ['status', 'service', 'rule', 'limit', 'before']

interface IncidentQuery {
  status?: string
  service?: string
  rule?: string
  limit?: string
  before?: string
}

export const detectionRoutes: FastifyPluginAsync<DetectionRoutesOptions> = async (app, options) => {
  const { engine, incidents, audit } = options
  const rulesFile = options.rulesFile ?? null

  // YAML bodies arrive as plain strings; parseRules reports their errors.
  app.addContentTypeParser(YAML_CONTENT_TYPES, { parseAs: 'string' }, (_request, body, done) => done(null, body))

  app.get('/incidents', async (request, reply) => {
    const query = request.query as IncidentQuery
    const unknown = Object.keys(query).find((key) => !INCIDENT_QUERY_KEYS.includes(key))
    if (unknown !== undefined) {
      return sendError(reply, 400, 'INVALID_QUERY', `unknown query parameter "${unknown}": use ${INCIDENT_QUERY_KEYS.join(', ')}`)
    }
    const status = query.status === undefined || query.status === '' ? undefined : query.status
    if (status !== undefined && !(INCIDENT_STATUSES as readonly string[]).includes(status)) {
      return sendError(reply, 400, 'INVALID_QUERY', `status "${status}" is invalid: use one of ${INCIDENT_STATUSES.join(', ')}`)
    }
    const limit = parseWholeNumber(query.limit, 100)
    if (limit === null || limit < 1 || limit > MAX_INCIDENT_LIST_LIMIT) {
      return sendError(reply, 400, 'INVALID_QUERY', `limit "${query.limit}" is invalid: use a whole number from 1 to ${MAX_INCIDENT_LIST_LIMIT}`)
    }
    const before = parseWholeNumber(query.before, undefined)
    if (before === null) {
      return sendError(reply, 400, 'INVALID_QUERY', `before "${query.before}" is invalid: use an incident id`)
    }
    const list = incidents.list({
      status: status as IncidentStatus | undefined,
      service: emptyToUndefined(query.service),
      rule: emptyToUndefined(query.rule),
      limit,
      before,
    })
    return { incidents: list }
  })

  app.get('/incidents/:id', async (request, reply) => {
    const id = parseId(request)
    if (id === null) return sendInvalidId(request, reply)
    const incident = incidents.get(id)
    if (incident === null) return sendError(reply, 404, 'INCIDENT_NOT_FOUND', `incident ${id} not found`)
    return { incident, events: incidents.events(incident) }
  })

  app.post('/incidents/:id/acknowledge', async (request, reply) => {
    if (!requireRole(request, reply, OPERATOR_ROLES, 'acknowledge an incident')) return reply
    const id = parseId(request)
    if (id === null) return sendInvalidId(request, reply)
    return changeIncident(reply, () => incidents.acknowledge(id, identity(request).actor))
  })

  app.post('/incidents/:id/resolve', async (request, reply) => {
    if (!requireRole(request, reply, OPERATOR_ROLES, 'resolve an incident')) return reply
    const id = parseId(request)
    if (id === null) return sendInvalidId(request, reply)
    return changeIncident(reply, () => incidents.resolve(id, identity(request).actor))
  })

  app.get('/rules', async () => ({ rules: engine.rules, yaml: engine.rulesYaml }))

  app.put('/rules', { bodyLimit: MAX_RULES_FILE_BYTES * 2 }, async (request, reply) => {
    if (!requireRole(request, reply, ADMIN_ROLES, 'change the detection rules')) return reply
    const yaml = rulesYamlFromBody(request.body)
    if (yaml === null) {
      return sendError(reply, 400, 'INVALID_BODY', 'expected the rules YAML as text/plain, or JSON such as { "yaml": "rules: ..." }')
    }
    const parsed = parseRules(yaml, REQUEST_RULES_FILE)
    if (!parsed.ok) {
      return reply.code(400).send({
        error: 'INVALID_RULES',
        message: parsed.errors.map(formatRuleError).join('\n'),
        errors: parsed.errors,
      })
    }
    if (rulesFile !== null) await writeAtomically(rulesFile, yaml)
    engine.setRules(parsed.rules, yaml)
    const actor = identity(request).actor
    await audit.append({
      type: 'RULES_UPDATED',
      severity: 'medium',
      description: `detection rules replaced by ${actor}: ${parsed.rules.length} rules`,
      metadata: { rules: parsed.rules.map((rule) => rule.name) },
      actor,
    })
    return { rules: engine.rules, yaml: engine.rulesYaml }
  })
}

async function changeIncident(reply: FastifyReply, change: () => Promise<unknown>): Promise<unknown> {
  try {
    return { incident: await change() }
  } catch (error) {
    if (!(error instanceof IncidentStateError)) throw error
    const status = error.code === 'INCIDENT_NOT_FOUND' ? 404 : 409
    return sendError(reply, status, error.code, error.message)
  }
}

function rulesYamlFromBody(body: unknown): string | null {
  if (typeof body === 'string') return body
  if (body !== null && typeof body === 'object' && typeof (body as { yaml?: unknown }).yaml === 'string') {
    return (body as { yaml: string }).yaml
  }
  return null
}

/**
 * The caller as the server's auth hook recorded it: `request.identity`
 * ({ name, role } of the token), or `request.actor` and `request.role`.
 * Read without augmenting FastifyRequest, which the server owns.
 */
// The auth hook's request.actor and request.role come first: they name user
// sessions (`user:NAME`) and the client certificate under mutual TLS, which
// the token identity alone does not.
function identity(request: FastifyRequest): { actor: string; role: string | undefined } {
  const fields = request as unknown as { identity?: { name?: unknown; role?: unknown } | null; actor?: unknown; role?: unknown }
  const token = fields.identity
  const tokenName = token !== undefined && token !== null && typeof token.name === 'string' ? token.name : null
  const tokenRole = token !== undefined && token !== null && typeof token.role === 'string' ? token.role : undefined
  let actor = 'api'
  if (typeof fields.actor === 'string') actor = fields.actor
  else if (tokenName !== null) actor = `token:${tokenName}`
  return { actor, role: typeof fields.role === 'string' ? fields.role : tokenRole }
}

function requireRole(request: FastifyRequest, reply: FastifyReply, roles: readonly Role[], action: string): boolean {
  const role = identity(request).role
  if (role !== undefined && (roles as readonly string[]).includes(role)) return true
  sendError(reply, 403, 'FORBIDDEN', `role ${role ?? '(none)'} may not ${action}: it needs ${roles.join(' or ')}`)
  return false
}

function parseId(request: FastifyRequest): number | null {
  const raw = (request.params as { id?: string }).id
  const id = parseWholeNumber(raw, undefined)
  return id === undefined || id === null || id < 1 ? null : id
}

function sendInvalidId(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const raw = (request.params as { id?: string }).id
  return sendError(reply, 400, 'INVALID_INCIDENT_ID', `incident id "${raw}" is invalid: use a positive whole number`)
}

/** Parses a whole number; returns `fallback` when raw is absent or empty, and null when it is not a whole number. */
function parseWholeNumber<T extends number | undefined>(raw: string | undefined, fallback: T): number | T | null {
  if (raw === undefined || raw === '') return fallback
  if (!/^\d{1,15}$/.test(raw)) return null
  return Number(raw)
}

function emptyToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.code(status).send({ error: code, message })
}

/** Writes through a synced temporary file and a rename, so a crash leaves the old rules file or the new one, not a mix. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`
  const handle = await open(temporary, 'w', 0o600)
  try {
    await handle.writeFile(text)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(temporary, path)
}
