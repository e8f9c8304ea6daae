import Database from 'better-sqlite3'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { applyMigrations } from '../../src/db/migrate.js'
import { DetectionEngine } from '../../src/detection/engine.js'
import { IncidentStore } from '../../src/detection/incidents.js'
import { detectionRoutes } from '../../src/detection/routes.js'
import { parseRules } from '../../src/detection/rules.js'
import type { AuditInput, AuditRecord } from '../../src/types.js'

const migrations = join(import.meta.dirname, '..', '..', '..', '..', 'prisma', 'migrations')

const RULES = `rules:
  - name: ptrace-attempt
    match: { type: ACCESS_DENIED, metadata: { syscall: ptrace } }
    response: alert
    severity: high
`

/** Appends to AuditEvent with increasing seqs, like the audit log does. */
class TableAudit {
  readonly records: AuditRecord[] = []

  constructor(private readonly db: Database.Database) {}

  async append(input: AuditInput): Promise<AuditRecord> {
    const record: AuditRecord = {
      seq: this.records.length + 1,
      time: new Date().toISOString(),
      service: input.service ?? null,
      pid: input.pid ?? null,
      type: input.type,
      severity: input.severity,
      description: input.description,
      metadata: input.metadata ?? {},
      actor: input.actor ?? null,
      prevHash: '',
      hash: '',
      hmac: null,
    }
    this.db
      .prepare(
        `INSERT INTO AuditEvent (seq, time, service, pid, type, severity, description, metadata, actor, prevHash, hash, hmac)
         VALUES (@seq, @time, @service, @pid, @type, @severity, @description, @metadata, @actor, '', '', NULL)`,
      )
      .run({ ...record, metadata: JSON.stringify(record.metadata) })
    this.records.push(record)
    return record
  }
}

let dir = ''
let db: Database.Database
let audit: TableAudit
let incidents: IncidentStore
let engine: DetectionEngine
let app: FastifyInstance
let rulesFile = ''

// The token identities the server's auth hook stores as request.identity.
const TOKENS: Record<string, { id: number; name: string; role: string }> = {
  admin: { id: 1, name: 'root', role: 'admin' },
  operator: { id: 2, name: 'olga', role: 'operator' },
  viewer: { id: 3, name: 'vic', role: 'viewer' },
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blackhole-detection-routes-'))
  db = new Database(join(dir, 'blackhole.db'))
  applyMigrations(db, migrations)
  audit = new TableAudit(db)
  incidents = new IncidentStore(db, audit)
  const parsed = parseRules(RULES, 'rules.yaml')
  if (!parsed.ok) throw new Error('test rules are invalid')
  engine = new DetectionEngine({ incidents, audit, responder: null, rules: parsed.rules, rulesYaml: RULES })
  rulesFile = join(dir, 'rules.yaml')
  writeFileSync(rulesFile, RULES)

  app = Fastify()
  // Stands in for the server's auth hook: the role comes from a test header.
  app.decorateRequest('identity', null)
  app.addHook('onRequest', async (request) => {
    const identity = TOKENS[String(request.headers['x-test-role'] ?? 'viewer')]
    Object.assign(request, { identity })
    // Sessions and mutual TLS set request.actor and request.role as the real hook does.
    const actor = request.headers['x-test-actor']
    if (typeof actor === 'string') Object.assign(request, { actor, role: identity?.role })
  })
  await app.register(detectionRoutes, { prefix: '/api/v1', engine, incidents, audit, rulesFile })
  await app.ready()
})

afterEach(async () => {
  await app.close()
  db.close()
  rmSync(dir, { recursive: true, force: true })
})

async function openIncident(service = 'identity') {
  const denied = await audit.append({ service, type: 'ACCESS_DENIED', severity: 'medium', description: 'ptrace denied with EPERM' })
  return incidents.open({
    rule: 'ptrace-attempt',
    service,
    severity: 'high',
    response: 'alert',
    summary: 'ptrace attempt',
    eventSeqs: [denied.seq],
  })
}

describe('GET /incidents', () => {
  it('lists incidents with filters', async () => {
    const first = await openIncident('identity')
    const second = await openIncident('storage')
    await incidents.acknowledge(second.id, 'token:olga')

    const all = await app.inject({ method: 'GET', url: '/api/v1/incidents' })
    expect(all.statusCode).toBe(200)
    expect(all.json().incidents.map((incident: { id: number }) => incident.id)).toEqual([second.id, first.id])

    const open = await app.inject({ method: 'GET', url: '/api/v1/incidents?status=open' })
    expect(open.json().incidents.map((incident: { id: number }) => incident.id)).toEqual([first.id])

    const storage = await app.inject({ method: 'GET', url: '/api/v1/incidents?service=storage&limit=5' })
    expect(storage.json().incidents.map((incident: { id: number }) => incident.id)).toEqual([second.id])
  })

  it('rejects an unknown status', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/v1/incidents?status=closed' })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toEqual({
      error: 'INVALID_QUERY',
      message: 'status "closed" is invalid: use one of open, acknowledged, resolved',
    })
  })

  it('rejects an unknown parameter', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/v1/incidents?state=open' })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toEqual({
      error: 'INVALID_QUERY',
      message: 'unknown query parameter "state": use status, service, rule, limit, before',
    })
  })

  it('rejects a limit out of range', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/v1/incidents?limit=5000' })
    expect(response.statusCode).toBe(400)
    expect(response.json().message).toBe('limit "5000" is invalid: use a whole number from 1 to 1000')
  })
})

describe('GET /incidents/:id', () => {
  it('returns the incident with its matched events', async () => {
    const incident = await openIncident()
    const response = await app.inject({ method: 'GET', url: `/api/v1/incidents/${incident.id}` })
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(body.incident.id).toBe(incident.id)
    expect(body.incident.eventSeqs).toEqual(incident.eventSeqs)
    expect(body.events).toHaveLength(1)
    expect(body.events[0].seq).toBe(incident.eventSeqs[0])
    expect(body.events[0].description).toBe('ptrace denied with EPERM')
  })

  it('returns 404 for an unknown id', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/v1/incidents/77' })
    expect(response.statusCode).toBe(404)
    expect(response.json()).toEqual({ error: 'INCIDENT_NOT_FOUND', message: 'incident 77 not found' })
  })

  it('returns 400 for an id that is not a number', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/v1/incidents/abc' })
    expect(response.statusCode).toBe(400)
    expect(response.json().error).toBe('INVALID_INCIDENT_ID')
  })
})

describe('POST /incidents/:id/acknowledge and /resolve', () => {
  it('records the session user as the actor', async () => {
    const incident = await openIncident()
    const response = await app.inject({
      method: 'POST',
      url: `/api/v1/incidents/${incident.id}/acknowledge`,
      headers: { 'x-test-role': 'operator', 'x-test-actor': 'user:alice' },
    })
    expect(response.statusCode).toBe(200)
    expect(response.json().incident.acknowledgedBy).toBe('user:alice')
  })

  it('forbids a viewer', async () => {
    const incident = await openIncident()
    const response = await app.inject({ method: 'POST', url: `/api/v1/incidents/${incident.id}/acknowledge`, headers: { 'x-test-role': 'viewer' } })
    expect(response.statusCode).toBe(403)
    expect(response.json()).toEqual({
      error: 'FORBIDDEN',
      message: 'role viewer may not acknowledge an incident: it needs operator or admin',
    })
    expect(incidents.get(incident.id)?.status).toBe('open')
  })

  it('lets an operator acknowledge, then resolve', async () => {
    const incident = await openIncident()
    const acknowledged = await app.inject({ method: 'POST', url: `/api/v1/incidents/${incident.id}/acknowledge`, headers: { 'x-test-role': 'operator' } })
    expect(acknowledged.statusCode).toBe(200)
    expect(acknowledged.json().incident.status).toBe('acknowledged')
    expect(acknowledged.json().incident.acknowledgedBy).toBe('token:olga')

    const again = await app.inject({ method: 'POST', url: `/api/v1/incidents/${incident.id}/acknowledge`, headers: { 'x-test-role': 'operator' } })
    expect(again.statusCode).toBe(409)
    expect(again.json().error).toBe('INCIDENT_STATE_CONFLICT')

    const resolved = await app.inject({ method: 'POST', url: `/api/v1/incidents/${incident.id}/resolve`, headers: { 'x-test-role': 'admin' } })
    expect(resolved.statusCode).toBe(200)
    expect(resolved.json().incident.status).toBe('resolved')
    expect(resolved.json().incident.resolvedBy).toBe('token:root')

    const types = audit.records.map((written) => `${written.type} ${written.actor}`)
    expect(types).toContain('INCIDENT_ACKNOWLEDGED token:olga')
    expect(types).toContain('INCIDENT_RESOLVED token:root')
  })

  it('returns 404 when resolving an unknown incident', async () => {
    const response = await app.inject({ method: 'POST', url: '/api/v1/incidents/12/resolve', headers: { 'x-test-role': 'operator' } })
    expect(response.statusCode).toBe(404)
    expect(response.json().error).toBe('INCIDENT_NOT_FOUND')
  })
})

describe('GET and PUT /rules', () => {
  const NEW_RULES = `rules:
  - name: oom-kill
    match: { type: OOM_KILL }
    response: alert
    severity: medium
`

  it('returns the rules and their YAML', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/v1/rules' })
    expect(response.statusCode).toBe(200)
    expect(response.json().yaml).toBe(RULES)
    expect(response.json().rules.map((rule: { name: string }) => rule.name)).toEqual(['ptrace-attempt'])
  })

  it('replaces the rules from text/plain', async () => {
    const response = await app.inject({
      method: 'PUT',
      url: '/api/v1/rules',
      headers: { 'x-test-role': 'admin', 'content-type': 'text/plain' },
      payload: NEW_RULES,
    })
    expect(response.statusCode).toBe(200)
    expect(engine.rules.map((rule) => rule.name)).toEqual(['oom-kill'])
    expect(readFileSync(rulesFile, 'utf8')).toBe(NEW_RULES)
    const [updated] = audit.records.filter((written) => written.type === 'RULES_UPDATED')
    expect(updated?.actor).toBe('token:root')
  })

  it('replaces the rules from JSON and YAML bodies', async () => {
    const json = await app.inject({
      method: 'PUT',
      url: '/api/v1/rules',
      headers: { 'x-test-role': 'admin' },
      payload: { yaml: NEW_RULES },
    })
    expect(json.statusCode).toBe(200)
    expect(engine.rulesYaml).toBe(NEW_RULES)

    const yaml = await app.inject({
      method: 'PUT',
      url: '/api/v1/rules',
      headers: { 'x-test-role': 'admin', 'content-type': 'application/yaml' },
      payload: RULES,
    })
    expect(yaml.statusCode).toBe(200)
    expect(engine.rulesYaml).toBe(RULES)
  })

  it('rejects invalid rules and keeps the stored ones', async () => {
    const response = await app.inject({
      method: 'PUT',
      url: '/api/v1/rules',
      headers: { 'x-test-role': 'admin', 'content-type': 'text/plain' },
      payload: NEW_RULES.replace('response: alert', 'response: nuke'),
    })
    expect(response.statusCode).toBe(400)
    const body = response.json()
    expect(body.error).toBe('INVALID_RULES')
    expect(body.message).toBe('rules.yaml:4:15: rules[0].response: unknown response "nuke", expected one of alert, block, isolate, terminate')
    expect(body.errors).toEqual([
      {
        file: 'rules.yaml',
        line: 4,
        col: 15,
        path: 'rules[0].response',
        message: 'unknown response "nuke", expected one of alert, block, isolate, terminate',
      },
    ])
    expect(engine.rulesYaml).toBe(RULES)
    expect(readFileSync(rulesFile, 'utf8')).toBe(RULES)
  })

  it('forbids an operator', async () => {
    const response = await app.inject({
      method: 'PUT',
      url: '/api/v1/rules',
      headers: { 'x-test-role': 'operator', 'content-type': 'text/plain' },
      payload: NEW_RULES,
    })
    expect(response.statusCode).toBe(403)
    expect(response.json().error).toBe('FORBIDDEN')
    expect(engine.rulesYaml).toBe(RULES)
  })

  it('rejects a JSON body without yaml', async () => {
    const response = await app.inject({
      method: 'PUT',
      url: '/api/v1/rules',
      headers: { 'x-test-role': 'admin' },
      payload: { rules: [] },
    })
    expect(response.statusCode).toBe(400)
    expect(response.json().error).toBe('INVALID_BODY')
  })
})
