import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { applyMigrations } from '../../src/db/migrate.js'
import { DetectionEngine, matches, supervisorResponder } from '../../src/detection/engine.js'
import type { Responder } from '../../src/detection/engine.js'
import { IncidentStateError, IncidentStore } from '../../src/detection/incidents.js'
import { formatRuleError, parseRules } from '../../src/detection/rules.js'
import type { Rule } from '../../src/detection/rules.js'
import type { AuditInput, AuditRecord } from '../../src/types.js'

const migrations = join(import.meta.dirname, '..', '..', '..', '..', 'prisma', 'migrations')
const T0 = Date.parse('2026-12-04T12:00:00.000Z')

/**
 * An audit log in memory with the real log's contract: append assigns a seq,
 * stores the row in AuditEvent and hands the record to every subscriber.
 */
class MemoryAudit {
  readonly records: AuditRecord[] = []
  private readonly listeners = new Set<(record: AuditRecord) => void>()
  private readonly insert: Database.Statement

  constructor(db: Database.Database) {
    this.insert = db.prepare(
      `INSERT INTO AuditEvent (seq, time, service, pid, type, severity, description, metadata, actor, prevHash, hash, hmac)
       VALUES (@seq, @time, @service, @pid, @type, @severity, @description, @metadata, @actor, '', '', NULL)`,
    )
  }

  async append(input: AuditInput, time = new Date().toISOString()): Promise<AuditRecord> {
    const record: AuditRecord = {
      seq: this.records.length + 1,
      time,
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
    this.records.push(record)
    this.insert.run({ ...record, metadata: JSON.stringify(record.metadata) })
    await Promise.resolve()
    for (const listener of this.listeners) listener(record)
    return record
  }

  subscribe(listener: (record: AuditRecord) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  ofType(type: string): AuditRecord[] {
    return this.records.filter((record) => record.type === type)
  }
}

/** A supervisor stand-in that records each call and writes the audit record the real one writes. */
class RecordingResponder implements Responder {
  readonly calls: { action: string; service: string; actor: string; reason: string }[] = []
  failWith: Error | null = null

  constructor(private readonly audit: MemoryAudit) {}

  isolate(service: string, actor: string, reason: string): Promise<void> {
    return this.act('isolate', 'SERVICE_ISOLATED', service, actor, reason)
  }

  block(service: string, actor: string, reason: string): Promise<void> {
    return this.act('block', 'SERVICE_BLOCKED', service, actor, reason)
  }

  terminate(service: string, actor: string, reason: string): Promise<void> {
    return this.act('terminate', 'SERVICE_TERMINATED', service, actor, reason)
  }

  private async act(action: string, type: string, service: string, actor: string, reason: string): Promise<void> {
    this.calls.push({ action, service, actor, reason })
    if (this.failWith !== null) throw this.failWith
    await this.audit.append({ service, type, severity: 'high', description: `${action}: ${reason}`, actor })
  }
}

function rules(yaml: string): Rule[] {
  const result = parseRules(yaml, 'test-rules.yaml')
  if (!result.ok) throw new Error(result.errors.map(formatRuleError).join('\n'))
  return result.rules
}

let seq = 1000

function record(fields: Partial<AuditRecord> & { at?: number }): AuditRecord {
  const { at, ...rest } = fields
  seq++
  return {
    seq,
    time: new Date(at ?? T0).toISOString(),
    service: 'identity',
    pid: 42,
    type: 'ACCESS_DENIED',
    severity: 'medium',
    description: 'ptrace denied with EPERM',
    metadata: { syscall: 'ptrace' },
    actor: 'supervisor',
    prevHash: '',
    hash: '',
    hmac: null,
    ...rest,
  }
}

const FLOOD = `rules:
  - name: denial-flood
    description: More than 20 denied syscalls in 10 seconds
    match: { type: ACCESS_DENIED }
    rate: { count: 20, window: 10s }
    response: isolate
    severity: high
`

let dir = ''
let db: Database.Database
let audit: MemoryAudit
let incidents: IncidentStore
let responder: RecordingResponder

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'blackhole-detection-'))
  db = new Database(join(dir, 'blackhole.db'))
  applyMigrations(db, migrations)
  audit = new MemoryAudit(db)
  incidents = new IncidentStore(db, audit)
  responder = new RecordingResponder(audit)
})

afterEach(() => {
  db.close()
  rmSync(dir, { recursive: true, force: true })
})

function engineWith(yaml: string, options: Partial<ConstructorParameters<typeof DetectionEngine>[0]> = {}): DetectionEngine {
  return new DetectionEngine({ incidents, audit, responder, rules: rules(yaml), rulesYaml: yaml, ...options })
}

describe('rule matching', () => {
  const [rule] = rules(`rules:
  - name: m
    match:
      type: [ACCESS_DENIED, SYSCALL_VIOLATION]
      service: [identity, storage]
      severity: [medium, high]
      metadata: { syscall: ptrace, decoded.port: 22 }
    response: alert
    severity: high
`)
  const base = { metadata: { syscall: 'ptrace', decoded: { port: 22 } } }

  it('matches type, service, severity and metadata', () => {
    expect(matches(rule!, record(base))).toBe(true)
    expect(matches(rule!, record({ ...base, type: 'SYSCALL_VIOLATION', service: 'storage', severity: 'high' }))).toBe(true)
  })

  it('rejects another type', () => {
    expect(matches(rule!, record({ ...base, type: 'OOM_KILL' }))).toBe(false)
  })

  it('rejects another or no service', () => {
    expect(matches(rule!, record({ ...base, service: 'billing' }))).toBe(false)
    expect(matches(rule!, record({ ...base, service: null }))).toBe(false)
  })

  it('rejects a severity outside the list', () => {
    expect(matches(rule!, record({ ...base, severity: 'critical' }))).toBe(false)
    expect(matches(rule!, record({ ...base, severity: 'low' }))).toBe(false)
  })

  it('compares metadata by dotted path', () => {
    expect(matches(rule!, record({ metadata: { syscall: 'ptrace', decoded: { port: 23 } } }))).toBe(false)
    expect(matches(rule!, record({ metadata: { syscall: 'ptrace', decoded: { port: '22' } } }))).toBe(false)
    expect(matches(rule!, record({ metadata: { syscall: 'ptrace' } }))).toBe(false)
    expect(matches(rule!, record({ metadata: { syscall: 'kill', decoded: { port: 22 } } }))).toBe(false)
  })

  it('applies min_severity as a lower bound', () => {
    const [minimum] = rules(`rules:
  - name: m
    match: { type: ACCESS_DENIED, min_severity: high }
    response: alert
    severity: high
`)
    expect(matches(minimum!, record({ severity: 'medium' }))).toBe(false)
    expect(matches(minimum!, record({ severity: 'high' }))).toBe(true)
    expect(matches(minimum!, record({ severity: 'critical' }))).toBe(true)
  })
})

describe('DetectionEngine rate window', () => {
  it('does not fire on 20 matches in 10 s, fires on 21', async () => {
    const engine = engineWith(FLOOD)
    for (let i = 0; i < 20; i++) engine.handle(record({ at: T0 + i * 450 }))
    await engine.idle()
    expect(incidents.list()).toHaveLength(0)

    const last = record({ at: T0 + 9_500 })
    engine.handle(last)
    await engine.idle()
    const [incident] = incidents.list()
    expect(incident?.rule).toBe('denial-flood')
    expect(incident?.service).toBe('identity')
    expect(incident?.severity).toBe('high')
    expect(incident?.eventSeqs).toHaveLength(21)
    expect(incident?.eventSeqs.at(-1)).toBe(last.seq)
  })

  it('drops matches older than the window', async () => {
    const engine = engineWith(FLOOD)
    for (let i = 0; i < 20; i++) engine.handle(record({ at: T0 + i * 10 }))
    // The first match is exactly 10 s old here, so it no longer counts.
    engine.handle(record({ at: T0 + 10_000 }))
    await engine.idle()
    expect(incidents.list()).toHaveLength(0)

    // The second one falls out too: still 20 within the window.
    engine.handle(record({ at: T0 + 10_010 }))
    await engine.idle()
    expect(incidents.list()).toHaveLength(0)

    engine.handle(record({ at: T0 + 10_015 }))
    await engine.idle()
    expect(incidents.list()).toHaveLength(1)
  })

  it('counts each service on its own', async () => {
    const engine = engineWith(FLOOD)
    for (let i = 0; i < 15; i++) {
      engine.handle(record({ at: T0 + i, service: 'identity' }))
      engine.handle(record({ at: T0 + i, service: 'storage' }))
    }
    await engine.idle()
    expect(incidents.list()).toHaveLength(0)
  })

  it('forgets the oldest window past maxKeys', async () => {
    const engine = engineWith(FLOOD, { maxKeys: 2 })
    for (let i = 0; i < 20; i++) engine.handle(record({ at: T0 + i, service: 'a' }))
    engine.handle(record({ at: T0 + 100, service: 'b' }))
    engine.handle(record({ at: T0 + 100, service: 'c' }))
    // a's window was evicted, so its 21st match is its first.
    engine.handle(record({ at: T0 + 200, service: 'a' }))
    await engine.idle()
    expect(incidents.list()).toHaveLength(0)
  })

  it('needs a full new count after firing', async () => {
    const engine = engineWith(FLOOD)
    for (let i = 0; i < 21; i++) engine.handle(record({ at: T0 + i }))
    for (let i = 0; i < 20; i++) engine.handle(record({ at: T0 + 100 + i }))
    await engine.idle()
    expect(incidents.list()).toHaveLength(1)
    engine.handle(record({ at: T0 + 200 }))
    await engine.idle()
    expect(incidents.list()).toHaveLength(2)
  })
})

describe('DetectionEngine cooldown', () => {
  const PTRACE = `rules:
  - name: ptrace-attempt
    match: { type: ACCESS_DENIED, metadata: { syscall: ptrace } }
    response: alert
    severity: high
    cooldown: 60s
`

  it('opens no incident for the same rule and service within the cooldown', async () => {
    const engine = engineWith(PTRACE)
    engine.handle(record({ at: T0 }))
    engine.handle(record({ at: T0 + 59_999 }))
    await engine.idle()
    expect(incidents.list()).toHaveLength(1)
    expect(engine.stats().cooledDown).toBe(1)

    engine.handle(record({ at: T0 + 60_000 }))
    await engine.idle()
    expect(incidents.list()).toHaveLength(2)
  })

  it('keeps cooldowns per service', async () => {
    const engine = engineWith(PTRACE)
    engine.handle(record({ at: T0, service: 'identity' }))
    engine.handle(record({ at: T0 + 1, service: 'storage' }))
    await engine.idle()
    expect(incidents.list().map((incident) => incident.service).sort()).toEqual(['identity', 'storage'])
  })

  it('fires on every match without a cooldown', async () => {
    const engine = engineWith(PTRACE.replace('    cooldown: 60s\n', ''))
    engine.handle(record({ at: T0 }))
    engine.handle(record({ at: T0 + 1 }))
    await engine.idle()
    expect(incidents.list()).toHaveLength(2)
  })
})

describe('DetectionEngine throttling', () => {
  it('samples a flooding service and reports what it suppressed', async () => {
    const engine = engineWith(FLOOD, { throttleEventsPerSecond: 10, throttleSampleEvery: 5 })
    for (let i = 0; i < 30; i++) engine.handle(record({ at: T0 + i * 10, type: 'SYSCALL_OBSERVED' }))
    await engine.idle()
    const [started] = audit.ofType('THROTTLE_STARTED')
    expect(started?.service).toBe('identity')
    expect(started?.actor).toBe('detection')
    expect(started?.metadata.eventsPerSecond).toBe(10)
    // 10 evaluated under the limit, then 1 in 5 of the other 20.
    expect(engine.stats().evaluated).toBe(14)
    expect(engine.stats().suppressed).toBe(16)
    expect(audit.ofType('THROTTLE_STOPPED')).toHaveLength(0)

    // Still throttled within the same second.
    engine.tick(T0 + 999)
    await engine.idle()
    expect(audit.ofType('THROTTLE_STOPPED')).toHaveLength(0)

    // The last second held 30 records, so calm needs one full second without any.
    engine.tick(T0 + 1_500)
    await engine.idle()
    expect(audit.ofType('THROTTLE_STOPPED')).toHaveLength(0)

    engine.tick(T0 + 2_000)
    await engine.idle()
    const [stopped] = audit.ofType('THROTTLE_STOPPED')
    expect(stopped?.service).toBe('identity')
    expect(stopped?.metadata.suppressed).toBe(16)
  })

  it('stops when a following second stays under the limit', async () => {
    const engine = engineWith(FLOOD, { throttleEventsPerSecond: 10, throttleSampleEvery: 5 })
    for (let i = 0; i < 12; i++) engine.handle(record({ at: T0 + i, type: 'SYSCALL_OBSERVED' }))
    // Second 0 was over the limit, so the first record of second 1 keeps the
    // throttle. Second 1 stays under it, so the record of second 2 ends it.
    for (let i = 0; i < 3; i++) engine.handle(record({ at: T0 + 1_000 + i, type: 'SYSCALL_OBSERVED' }))
    engine.handle(record({ at: T0 + 2_000, type: 'SYSCALL_OBSERVED' }))
    await engine.idle()
    expect(audit.ofType('THROTTLE_STARTED')).toHaveLength(1)
    const [stopped] = audit.ofType('THROTTLE_STOPPED')
    // Records 11 and 12, then 3 in the next second: 5 throttled, the 5th sampled.
    expect(stopped?.metadata.suppressed).toBe(4)
    expect(engine.stats().evaluated).toBe(10 + 1 + 1)
  })

  it('counts a late record in the current second', async () => {
    const engine = engineWith(FLOOD, { throttleEventsPerSecond: 10, throttleSampleEvery: 5 })
    for (let i = 0; i < 6; i++) engine.handle(record({ at: T0 + 1_000 + i, type: 'SYSCALL_OBSERVED' }))
    for (let i = 0; i < 5; i++) engine.handle(record({ at: T0 + 999, type: 'SYSCALL_OBSERVED' }))
    await engine.idle()
    expect(audit.ofType('THROTTLE_STARTED')).toHaveLength(1)
  })

  it('leaves other services alone', async () => {
    const engine = engineWith(FLOOD, { throttleEventsPerSecond: 10, throttleSampleEvery: 5 })
    for (let i = 0; i < 30; i++) engine.handle(record({ at: T0 + i, service: 'noisy', type: 'SYSCALL_OBSERVED' }))
    // identity stays under 10 per second, so all its records are evaluated.
    for (let i = 0; i < 21; i++) engine.handle(record({ at: T0 + i * 400, service: 'identity' }))
    await engine.idle()
    expect(incidents.list().map((incident) => incident.service)).toEqual(['identity'])
    expect(audit.ofType('THROTTLE_STARTED').map((started) => started.service)).toEqual(['noisy'])
  })
})

describe('DetectionEngine own records', () => {
  it('never triggers on the records it or its response wrote', async () => {
    // This rule matches every record type the engine, the store and the
    // responder write, so only the own-record check prevents a loop.
    const yaml = `rules:
  - name: everything
    match:
      type: [ACCESS_DENIED, INCIDENT_OPENED, RESPONSE_TAKEN, RESPONSE_FAILED, SERVICE_ISOLATED, THROTTLE_STARTED, THROTTLE_STOPPED]
    response: isolate
    severity: high
`
    const engine = engineWith(yaml, { throttleEventsPerSecond: 1000 })
    engine.start(audit)
    await audit.append({ service: 'identity', type: 'ACCESS_DENIED', severity: 'medium', description: 'ptrace denied', actor: 'supervisor' })
    await engine.idle()
    // Let the last records reach the listener, then wait for anything they started.
    await new Promise((resolve) => setImmediate(resolve))
    await engine.idle()
    await engine.stop()

    expect(incidents.list()).toHaveLength(1)
    expect(responder.calls).toHaveLength(1)
    expect(audit.ofType('INCIDENT_OPENED')).toHaveLength(1)
    expect(audit.ofType('SERVICE_ISOLATED')).toHaveLength(1)
    expect(audit.ofType('RESPONSE_TAKEN')).toHaveLength(1)
    expect(engine.stats().ignoredOwn).toBe(3)
  })
})

describe('incidents', () => {
  it('stores the incident and writes its audit records', async () => {
    const engine = engineWith(FLOOD)
    const flood = Array.from({ length: 21 }, (_, i) => record({ at: T0 + i }))
    for (const denied of flood) engine.handle(denied)
    await engine.idle()

    const [incident] = incidents.list()
    expect(incident?.status).toBe('open')
    expect(incident?.response).toBe('isolate')
    expect(incident?.responseResult).toBe('succeeded')
    expect(incident?.eventSeqs).toEqual(flood.map((denied) => denied.seq))
    expect(incident?.summary).toBe('More than 20 denied syscalls in 10 seconds on identity: 21 matching events within 10s')

    expect(responder.calls).toEqual([
      { action: 'isolate', service: 'identity', actor: 'rule:denial-flood', reason: `incident ${incident?.id}: ${incident?.summary}` },
    ])
    const [opened] = audit.ofType('INCIDENT_OPENED')
    expect(opened?.actor).toBe('rule:denial-flood')
    expect(opened?.service).toBe('identity')
    expect(opened?.severity).toBe('high')
    expect(opened?.metadata.incidentId).toBe(incident?.id)
    expect(opened?.metadata.eventSeqs).toEqual(incident?.eventSeqs)
    const [taken] = audit.ofType('RESPONSE_TAKEN')
    expect(taken?.actor).toBe('rule:denial-flood')
    expect(taken?.metadata.result).toBe('succeeded')
    expect(audit.records.map((written) => written.type)).toEqual(['INCIDENT_OPENED', 'SERVICE_ISOLATED', 'RESPONSE_TAKEN'])
  })

  it('records a failed response', async () => {
    responder.failWith = new Error('service identity is not running')
    const engine = engineWith(FLOOD)
    for (let i = 0; i < 21; i++) engine.handle(record({ at: T0 + i }))
    await engine.idle()

    const [incident] = incidents.list()
    expect(incident?.responseResult).toBe('failed: service identity is not running')
    const [failed] = audit.ofType('RESPONSE_FAILED')
    expect(failed?.actor).toBe('rule:denial-flood')
    expect(failed?.severity).toBe('high')
    expect(failed?.description).toBe(`isolate of identity for incident ${incident?.id} failed: service identity is not running`)
    expect(audit.ofType('RESPONSE_TAKEN')).toHaveLength(0)
  })

  it('records a failure when no supervisor runs', async () => {
    const engine = engineWith(FLOOD, { responder: null })
    for (let i = 0; i < 21; i++) engine.handle(record({ at: T0 + i }))
    await engine.idle()
    expect(incidents.list()[0]?.responseResult).toBe('failed: no supervisor is running to carry out the response')
    expect(audit.ofType('RESPONSE_FAILED')).toHaveLength(1)
  })

  it('takes no response for an alert', async () => {
    const engine = engineWith(FLOOD.replace('response: isolate', 'response: alert'))
    for (let i = 0; i < 21; i++) engine.handle(record({ at: T0 + i }))
    await engine.idle()
    expect(incidents.list()[0]?.responseResult).toBe('none')
    expect(responder.calls).toHaveLength(0)
    expect(audit.records.map((written) => written.type)).toEqual(['INCIDENT_OPENED'])
  })

  it('skips the response for records without a service', async () => {
    const engine = engineWith(FLOOD)
    for (let i = 0; i < 21; i++) engine.handle(record({ at: T0 + i, service: null }))
    await engine.idle()
    expect(incidents.list()[0]?.responseResult).toBe('not applicable: the matched records name no service')
    expect(responder.calls).toHaveLength(0)
  })

  it('acknowledges and resolves with the actor', async () => {
    const opened = await incidents.open({
      rule: 'denial-flood',
      service: 'identity',
      severity: 'high',
      response: 'alert',
      summary: 'flood',
      eventSeqs: [1, 2],
    })
    const acknowledged = await incidents.acknowledge(opened.id, 'token:alice', new Date(T0))
    expect(acknowledged.status).toBe('acknowledged')
    expect(acknowledged.acknowledgedBy).toBe('token:alice')
    expect(acknowledged.acknowledgedAt).toBe(new Date(T0).toISOString())

    const resolved = await incidents.resolve(opened.id, 'token:bob', new Date(T0 + 1000))
    expect(resolved.status).toBe('resolved')
    expect(resolved.resolvedBy).toBe('token:bob')
    expect(resolved.resolvedAt).toBe(new Date(T0 + 1000).toISOString())
    expect(resolved.acknowledgedBy).toBe('token:alice')

    const [ackRecord] = audit.ofType('INCIDENT_ACKNOWLEDGED')
    expect(ackRecord?.actor).toBe('token:alice')
    expect(ackRecord?.metadata.incidentId).toBe(opened.id)
    const [resolveRecord] = audit.ofType('INCIDENT_RESOLVED')
    expect(resolveRecord?.actor).toBe('token:bob')
  })

  it('rejects invalid state changes', async () => {
    const opened = await incidents.open({ rule: 'r', service: null, severity: 'low', response: 'alert', summary: 's', eventSeqs: [] })
    await incidents.resolve(opened.id, 'token:alice')
    await expect(incidents.acknowledge(opened.id, 'token:alice')).rejects.toThrow(
      `incident ${opened.id} is resolved; only an open incident can be acknowledged`,
    )
    await expect(incidents.resolve(opened.id, 'token:alice')).rejects.toThrow(`incident ${opened.id} is already resolved`)
    await expect(incidents.resolve(999, 'token:alice')).rejects.toBeInstanceOf(IncidentStateError)
    expect(audit.ofType('INCIDENT_RESOLVED')).toHaveLength(1)
  })

  it('lists by status and service, newest first', async () => {
    const base = { rule: 'r', severity: 'low' as const, response: 'alert' as const, summary: 's', eventSeqs: [] }
    const first = await incidents.open({ ...base, service: 'a' })
    const second = await incidents.open({ ...base, service: 'b' })
    const third = await incidents.open({ ...base, service: 'a' })
    await incidents.acknowledge(second.id, 'token:alice')
    expect(incidents.list().map((incident) => incident.id)).toEqual([third.id, second.id, first.id])
    expect(incidents.list({ service: 'a' }).map((incident) => incident.id)).toEqual([third.id, first.id])
    expect(incidents.list({ status: 'acknowledged' }).map((incident) => incident.id)).toEqual([second.id])
    expect(incidents.list({ limit: 1 }).map((incident) => incident.id)).toEqual([third.id])
    expect(incidents.list({ before: third.id }).map((incident) => incident.id)).toEqual([second.id, first.id])
    expect(() => incidents.list({ limit: 0 })).toThrow('incident list limit 0 is invalid')
  })

  it('returns the matched audit records', async () => {
    const denied = await audit.append({ service: 'identity', type: 'ACCESS_DENIED', severity: 'medium', description: 'ptrace denied' })
    const incident = await incidents.open({
      rule: 'r',
      service: 'identity',
      severity: 'low',
      response: 'alert',
      summary: 's',
      eventSeqs: [denied.seq, 999_999],
    })
    const events = incidents.events(incident)
    expect(events.map((event) => event.seq)).toEqual([denied.seq])
    expect(events[0]?.description).toBe('ptrace denied')
  })
})

describe('DetectionEngine.setRules', () => {
  it('drops windows of removed rules', async () => {
    const engine = engineWith(FLOOD)
    for (let i = 0; i < 20; i++) engine.handle(record({ at: T0 + i }))
    engine.setRules([], 'rules: []\n')
    engine.setRules(rules(FLOOD), FLOOD)
    engine.handle(record({ at: T0 + 100 }))
    await engine.idle()
    expect(incidents.list()).toHaveLength(0)
    expect(engine.rulesYaml).toBe(FLOOD)
  })
})

describe('supervisorResponder', () => {
  it('passes the reason in the form each supervisor method takes', async () => {
    const calls: unknown[][] = []
    const supervisor = {
      isolate: async (...args: unknown[]) => calls.push(['isolate', ...args]),
      block: async (...args: unknown[]) => calls.push(['block', ...args]),
      terminate: async (...args: unknown[]) => calls.push(['terminate', ...args]),
    }
    const adapted = supervisorResponder(supervisor)
    await adapted.isolate('identity', 'rule:a', 'incident 1: flood')
    await adapted.block('identity', 'rule:b', 'incident 2: scan')
    await adapted.terminate('identity', 'rule:c', 'incident 3: oom')
    expect(calls).toEqual([
      ['isolate', 'identity', 'rule:a', 'incident 1: flood'],
      ['block', 'identity', 'rule:b', 'incident 2: scan'],
      ['terminate', 'identity', 'rule:c', { reason: 'incident 3: oom' }],
    ])
  })
})
