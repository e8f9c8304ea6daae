// startDetection with the real audit log: records committed by the log reach
// the engine, and the engine's incident records go back through the log.

import Database from 'better-sqlite3'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AuditLog } from '../../src/audit/audit-log.js'
import { startDetection } from '../../src/detection/index.js'
import type { DetectionSetup } from '../../src/detection/index.js'

const RULES = `rules:
  - name: ptrace-attempt
    match: { type: ACCESS_DENIED, metadata: { syscall: ptrace } }
    response: isolate
    severity: high
`

let dir = ''
let audit: AuditLog
let db: Database.Database
let setup: DetectionSetup | null = null

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'blackhole-detection-start-'))
  const dbPath = join(dir, 'blackhole.db')
  audit = AuditLog.open({ dbPath, jsonlPath: join(dir, 'audit.jsonl'), keyDir: join(dir, 'keys') })
  db = new Database(dbPath)
  db.pragma('busy_timeout = 5000')
})

afterEach(async () => {
  await setup?.engine.stop()
  setup = null
  await audit.close()
  db.close()
  rmSync(dir, { recursive: true, force: true })
})

async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

function typesAndActors(): string[] {
  const rows = db.prepare(`SELECT type, actor FROM AuditEvent ORDER BY seq`).all() as { type: string; actor: string | null }[]
  return rows.map((row) => `${row.type} ${row.actor}`)
}

describe('startDetection', () => {
  it('opens incidents from records the audit log commits', async () => {
    const rulesFile = join(dir, 'rules.yaml')
    writeFileSync(rulesFile, RULES)
    const isolated: string[] = []
    const supervisor = {
      isolate: async (name: string, actor: string) => {
        isolated.push(`${name} ${actor}`)
        await audit.append({ service: name, type: 'SERVICE_ISOLATED', severity: 'high', description: `${name} isolated`, actor })
      },
      block: async () => undefined,
      terminate: async () => undefined,
    }
    setup = await startDetection({ db, audit, supervisor, rulesFile })
    expect(setup.engine.rules.map((rule) => rule.name)).toEqual(['ptrace-attempt'])
    expect(setup.engine.rulesYaml).toBe(RULES)

    const denied = await audit.append({
      service: 'identity',
      type: 'ACCESS_DENIED',
      severity: 'medium',
      description: 'ptrace denied with EPERM',
      metadata: { syscall: 'ptrace' },
      actor: 'supervisor',
    })
    // The log delivers records after its group commit, so poll for the last one.
    await waitFor(() => typesAndActors().includes('RESPONSE_TAKEN rule:ptrace-attempt'), 'RESPONSE_TAKEN')

    const [incident] = setup.incidents.list()
    expect(incident?.eventSeqs).toEqual([denied.seq])
    expect(incident?.responseResult).toBe('succeeded')
    expect(isolated).toEqual(['identity rule:ptrace-attempt'])
    expect(setup.incidents.list()).toHaveLength(1)
    const written = typesAndActors()
    expect(written).toContain('INCIDENT_OPENED rule:ptrace-attempt')
    expect(written).toContain('SERVICE_ISOLATED rule:ptrace-attempt')
    expect(written).toContain('RESPONSE_TAKEN rule:ptrace-attempt')
  })

  it('starts with no rules when the file is missing', async () => {
    setup = await startDetection({ db, audit, supervisor: null, rulesFile: join(dir, 'missing.yaml') })
    expect(setup.engine.rules).toEqual([])
    expect(setup.routeOptions.rulesFile).toBe(join(dir, 'missing.yaml'))
  })

  it('rejects an invalid rules file with every error', async () => {
    const rulesFile = join(dir, 'rules.yaml')
    writeFileSync(rulesFile, RULES.replace('response: isolate', 'response: nuke').replace('severity: high', 'severity: dire'))
    await expect(startDetection({ db, audit, supervisor: null, rulesFile })).rejects.toThrow(
      `invalid detection rules:\n${rulesFile}:4:15: rules[0].response: unknown response "nuke", expected one of alert, block, isolate, terminate\n` +
        `${rulesFile}:5:15: rules[0].severity: unknown severity "dire", expected one of info, low, medium, high, critical`,
    )
  })
})
