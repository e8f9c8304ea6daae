import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AuditLog } from '../../src/audit/audit-log.js'
import { IncidentStore } from '../../src/detection/incidents.js'
import { buildComplianceReport } from '../../src/report/build.js'
import { readReportData, reportPeriod } from '../../src/report/data.js'
import { escapeHtml, renderComplianceHtml } from '../../src/report/html.js'

const HOSTILE = '<script>alert("x")</script>'
const HOSTILE_SUMMARY = `denials from <img src=x onerror=alert(1)> & "friends"`

const PROFILE_V1 = `web:
  enforce_mode: enforce
  network:
    allowed_ports: [8080]
`
const PROFILE_V2 = `web:
  enforce_mode: enforce
  capabilities: [CAP_NET_ADMIN]
  network:
    allowed_ports: [8080]
`

let dir = ''
let audit: AuditLog
let db: Database.Database

function insertVersion(version: number, yaml: string, createdAt: string): void {
  db.prepare(`INSERT INTO Profile (name, currentVersion, createdAt, updatedAt) VALUES ('web', ?, ?, ?)
              ON CONFLICT(name) DO UPDATE SET currentVersion = excluded.currentVersion`).run(version, createdAt, createdAt)
  db.prepare(`INSERT INTO ProfileVersion (profileName, version, yaml, sha256, author, createdAt) VALUES ('web', ?, ?, ?, 'token:admin', ?)`)
    .run(version, yaml, `sha-${version}`, Date.parse(createdAt))
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'blackhole-report-'))
  audit = AuditLog.open({ dbPath: join(dir, 'blackhole.db'), jsonlPath: join(dir, 'audit.jsonl'), keyDir: join(dir, 'keys'), checkpointEvery: 3 })
  db = new Database(join(dir, 'blackhole.db'))
  db.pragma('busy_timeout = 5000')
  insertVersion(1, PROFILE_V1, '2020-01-01T00:00:00.000Z')
  insertVersion(2, PROFILE_V2, new Date(Date.now() - 1000).toISOString())
  await audit.append({ service: 'web', type: 'SERVICE_STARTED', severity: 'info', description: 'web started', actor: 'supervisor', metadata: { profile: 'web' } })
  await audit.append({ service: HOSTILE, type: 'SERVICE_STARTED', severity: 'info', description: 'hostile started', actor: 'supervisor', metadata: { profile: 'web' } })
  await audit.append({ service: 'web', type: 'SERVICE_STOPPED', severity: 'info', description: `web stopped by token:alice ${HOSTILE}`, actor: 'token:alice' })
  await audit.append({ service: 'web', type: 'SERVICE_ISOLATED', severity: 'high', description: 'web isolated by user:bob', actor: 'user:bob' })
  await audit.append({ service: 'web', type: 'ACCESS_DENIED', severity: 'medium', description: 'kill denied', actor: 'supervisor' })
  const incidents = new IncidentStore(db, audit)
  const incident = await incidents.open({ rule: 'denial-flood', service: HOSTILE, severity: 'high', response: 'isolate', summary: HOSTILE_SUMMARY, eventSeqs: [5] })
  await incidents.recordResponse(incident.id, null)
  await audit.checkpoint()
})

afterEach(async () => {
  await audit.close()
  db.close()
  rmSync(dir, { recursive: true, force: true })
})

function report() {
  const period = reportPeriod(new Date(Date.now() - 3_600_000).toISOString(), new Date(Date.now() + 60_000).toISOString())
  return buildComplianceReport(readReportData(db, period), {
    services: [{ name: 'web', profile: 'web' }],
    verification: audit.verify(),
    generatedAt: '2026-12-04T12:00:00.000Z',
  })
}

describe('compliance report', () => {
  it('lists services with versions and scores', () => {
    const { services } = report()
    expect(services.map((service) => service.name)).toEqual([HOSTILE, 'web'])
    const web = services.find((service) => service.name === 'web')!
    expect(web.starts).toBe(1)
    expect(web.profileVersions.map((version) => version.version)).toEqual([1, 2])
    expect(web.profileVersions[0]!.score).toBeTypeOf('number')
    expect(web.profileVersions[1]!.score!).toBeGreaterThan(web.profileVersions[0]!.score!)
    expect(web.profileVersions[0]!.author).toBe('token:admin')
  })

  it('counts events and operator actions', () => {
    const result = report()
    expect(result.events.byType.SERVICE_STARTED).toBe(2)
    expect(result.events.byType.ACCESS_DENIED).toBe(1)
    expect(result.events.byType.INCIDENT_OPENED).toBe(1)
    expect(result.operatorActions.total).toBe(2)
    expect(result.operatorActions.items.map((action) => action.actor)).toEqual(['user:bob', 'token:alice'])
  })

  it('includes incidents and the audit state', () => {
    const result = report()
    expect(result.incidents.total).toBe(1)
    expect(result.incidents.items[0]!.rule).toBe('denial-flood')
    expect(result.incidents.items[0]!.response).toBe('isolate')
    expect(result.incidents.items[0]!.responseResult).toBe('succeeded')
    expect(result.incidents.bySeverity.high).toBe(1)
    expect(result.audit.verification?.ok).toBe(true)
    expect(result.audit.verification?.problemCount).toBe(0)
    expect(result.audit.lastCheckpoint?.seq).toBeGreaterThan(1)
  })

  it('excludes events outside the period', () => {
    const period = reportPeriod('2020-01-01', '2020-01-02')
    const result = buildComplianceReport(readReportData(db, period), { services: [{ name: 'web', profile: 'web' }] })
    expect(result.events.total).toBe(0)
    expect(result.incidents.total).toBe(0)
    expect(result.operatorActions.total).toBe(0)
    expect(result.services[0]!.profileVersions.map((version) => version.version)).toEqual([1])
    expect(result.audit.verification).toBeNull()
  })

  it('rejects an invalid period', () => {
    expect(() => reportPeriod('yesterday', '2026-01-01')).toThrow('invalid from "yesterday"')
    expect(() => reportPeriod('2026-01-02', '2026-01-01')).toThrow('the period is empty')
  })
})

describe('compliance report HTML', () => {
  it('escapes hostile names and descriptions', () => {
    const html = renderComplianceHtml(report())
    expect(html).not.toContain('<script>')
    expect(html).not.toContain('<img')
    expect(html).toContain(escapeHtml(HOSTILE))
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt; &amp; &quot;friends&quot;')
  })

  it('loads nothing from outside the page', () => {
    const html = renderComplianceHtml(report())
    expect(html).not.toMatch(/<[^>]*\s(src|href)=/i)
    expect(html).not.toMatch(/<(script|link|img|iframe)\b/i)
    expect(html).not.toContain('@import')
    expect(html).not.toMatch(/url\(/i)
    expect(html).toContain('@media print')
    expect(html).toContain("default-src 'none'")
  })

  it('escapes every special character', () => {
    expect(escapeHtml(`<a href='x'>&"`)).toBe('&lt;a href=&#39;x&#39;&gt;&amp;&quot;')
    expect(escapeHtml(null)).toBe('')
  })
})
