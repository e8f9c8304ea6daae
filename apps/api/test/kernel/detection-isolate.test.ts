// End to end: a sandboxed service that floods denied syscalls under enforce
// mode is isolated by a detection rule. The chain is real: seccomp user
// notifications, the supervisor's ACCESS_DENIED records, the audit log,
// the engine, the Incident table and the freezer cgroup.

import Database from 'better-sqlite3'
import { existsSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '@blackhole/policy'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AuditLog } from '../../src/audit/audit-log.js'
import { DetectionEngine, supervisorResponder } from '../../src/detection/engine.js'
import { IncidentStore } from '../../src/detection/incidents.js'
import { formatRuleError, parseRules } from '../../src/detection/rules.js'
import { detectLayout } from '../../src/sandbox/cgroups.js'
import { Supervisor } from '../../src/sandbox/supervisor.js'
import type { AuditRecord } from '../../src/types.js'

const cgroupRoot = `blackhole-detection-test-${process.pid}`
const layout = detectLayout()

// dash's builtin kill calls kill(2) without forking, so the loop produces
// denials quickly. The loop is bounded and then sleeps, so the service still
// runs when the rule isolates it.
const CONFIG = `
security_profiles:
  flooding:
    enforce_mode: enforce
    syscalls:
      denied: [kill]
    network:
      mode: none
    resource_limits:
      max_memory: 64MiB
      max_processes: 16
services:
  flooder:
    profile: flooding
    command: /bin/sh
    args: ['-c', 'i=0; while [ $i -lt 2000 ]; do kill -0 $$ 2>/dev/null; i=$((i+1)); done; exec sleep 60']
    autostart: false
`

const RULES = `rules:
  - name: denial-flood
    description: More than 20 denied syscalls in 10 seconds
    match: { type: ACCESS_DENIED, metadata: { syscall: kill } }
    rate: { count: 20, window: 10s }
    response: isolate
    severity: high
    cooldown: 60s
`

let dir = ''
let audit: AuditLog
let db: Database.Database
let supervisor: Supervisor
let engine: DetectionEngine
let incidents: IncidentStore

async function waitFor<T>(read: () => T | undefined | null | false, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = read()
    if (value !== undefined && value !== null && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function recordsOf(type: string): AuditRecord[] {
  const rows = db.prepare(`SELECT * FROM AuditEvent WHERE type = ? ORDER BY seq`).all(type) as (Omit<AuditRecord, 'metadata'> & {
    metadata: string
  })[]
  return rows.map((row) => ({ ...row, metadata: JSON.parse(row.metadata) as Record<string, unknown> }))
}

beforeEach(() => {
  if (process.getuid?.() !== 0) throw new Error('the kernel tests need root')
  dir = mkdtempSync(join(tmpdir(), 'blackhole-detection-kernel-'))
  const configPath = join(dir, 'blackhole.yaml')
  const parsedConfig = parseConfig(CONFIG, configPath)
  if (!parsedConfig.ok) throw new Error(`test config invalid: ${JSON.stringify(parsedConfig.errors)}`)
  const parsedRules = parseRules(RULES, 'rules.yaml')
  if (!parsedRules.ok) throw new Error(parsedRules.errors.map(formatRuleError).join('\n'))

  const dbPath = join(dir, 'blackhole.db')
  audit = AuditLog.open({ dbPath, jsonlPath: join(dir, 'audit.jsonl'), keyDir: join(dir, 'keys') })
  // A second connection for the Incident table, as the server passes one in.
  db = new Database(dbPath)
  db.pragma('busy_timeout = 5000')
  supervisor = new Supervisor({
    config: parsedConfig.config,
    configPath,
    dataDir: join(dir, 'data'),
    cgroupRoot,
    graceMs: 300,
    record: (input) => audit.append(input),
  })
  incidents = new IncidentStore(db, audit)
  engine = new DetectionEngine({
    incidents,
    audit,
    responder: supervisorResponder(supervisor),
    rules: parsedRules.rules,
    rulesYaml: RULES,
  })
  engine.start(audit)
})

afterEach(async () => {
  await engine.stop()
  await supervisor.shutdown('test')
  await audit.close()
  db.close()
  rmSync(dir, { recursive: true, force: true })
  for (const mount of new Set([...Object.values(layout.v1), ...(layout.unified ? [layout.unified] : [])])) {
    const cgroup = join(mount, cgroupRoot)
    if (existsSync(cgroup)) rmdirSync(cgroup)
  }
})

describe('detection with a real sandbox', () => {
  it('isolates a service that floods denied syscalls', async () => {
    const started = await supervisor.start('flooder', 'test')
    expect(started.state).toBe('running')

    const incident = await waitFor(
      () => incidents.list({ rule: 'denial-flood' }).find((found) => found.responseResult !== 'pending'),
      'the incident and its response',
    )
    expect(incident.service).toBe('flooder')
    expect(incident.severity).toBe('high')
    expect(incident.responseResult).toBe('succeeded')
    expect(incident.eventSeqs).toHaveLength(21)

    const status = supervisor.get('flooder')
    expect(status.state).toBe('isolated')
    expect(status.blocked).toBe(true)
    const freezer = join(layout.v1.freezer ?? '', cgroupRoot, 'flooder', 'freezer.state')
    expect(readFileSync(freezer, 'utf8').trim()).toBe('FROZEN')

    await engine.idle()
    const [opened] = recordsOf('INCIDENT_OPENED')
    expect(opened?.actor).toBe('rule:denial-flood')
    expect(opened?.service).toBe('flooder')
    expect(opened?.metadata.incidentId).toBe(incident.id)
    const [isolated] = recordsOf('SERVICE_ISOLATED')
    expect(isolated?.actor).toBe('rule:denial-flood')
    expect(isolated?.service).toBe('flooder')
    const [taken] = await waitFor(() => recordsOf('RESPONSE_TAKEN'), 'RESPONSE_TAKEN')
    expect(taken?.actor).toBe('rule:denial-flood')

    // The matched seqs are real ACCESS_DENIED records of kill.
    const events = incidents.events(incident)
    expect(events).toHaveLength(21)
    expect(events.every((event) => event.type === 'ACCESS_DENIED')).toBe(true)
    expect(events.every((event) => event.metadata.syscall === 'kill')).toBe(true)
    // One flood, one incident: the cooldown and the own-record check hold.
    expect(incidents.list()).toHaveLength(1)
  })
})
