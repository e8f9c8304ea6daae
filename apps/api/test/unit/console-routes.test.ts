import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createToken } from '../../src/db/tokens.js'
import { openBlackhole, type Blackhole } from '../../src/server/app.js'
import { FailureLimiter } from '../../src/server/auth.js'
import { csvField, MAX_EXPORT_ROWS } from '../../src/server/routes/events-export.js'
import { processTree, readLogTail } from '../../src/server/routes/service-detail.js'
import { tempFolder, type TempFolder } from './server-fixture.js'

const ADMIN_TOKEN = 'bh_test-admin-token-for-the-console-route-tests'

describe('console audit, service and export routes', () => {
  let folder: TempFolder
  let blackhole: Blackhole
  let viewer: string
  let operator: string

  const auth = (token = ADMIN_TOKEN) => ({ authorization: `Bearer ${token}` })

  beforeAll(async () => {
    folder = tempFolder()
    blackhole = await openBlackhole({
      configPath: folder.configPath,
      dataDir: folder.dataDir,
      adminToken: ADMIN_TOKEN,
      logger: false,
      webRoot: null,
      rulesPath: null,
      limiter: new FailureLimiter(),
      // Each supervisor locks its cgroup parent, so parallel test files need their own.
      cgroupRoot: `blackhole-test-${process.pid}`,
    })
    viewer = (await createToken(blackhole.database.prisma, 'watcher', 'viewer')).token
    operator = (await createToken(blackhole.database.prisma, 'oncall', 'operator')).token
    await blackhole.audit.appendMany(
      Array.from({ length: 30 }, (_, i) => ({
        service: i % 2 === 0 ? 'identity' : 'storage',
        type: i % 3 === 0 ? 'ACCESS_DENIED' : 'SYSCALL_OBSERVED',
        severity: 'low' as const,
        description: i === 0 ? '=cmd|"quoted", comma\nnewline' : `event ${i}`,
        metadata: { i },
        actor: null,
      })),
    )
  })

  afterAll(async () => {
    await blackhole?.close()
    folder?.remove()
  })

  it('shows audit status to a viewer', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/audit/status', headers: auth(viewer) })
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(body.lastSeq).toBeGreaterThan(30)
    expect(body.lastVerify).toBeNull()
    expect(typeof body.checkpoints).toBe('number')
  })

  it('lets operators verify, not viewers', async () => {
    const denied = await blackhole.app.inject({ method: 'POST', url: '/api/v1/audit/verify', headers: auth(viewer) })
    expect(denied.statusCode).toBe(403)
    const response = await blackhole.app.inject({ method: 'POST', url: '/api/v1/audit/verify', headers: auth(operator) })
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(body.ok).toBe(true)
    expect(body.firstBad).toBeNull()
    expect(body.verifiedBy).toBe('token:oncall')
    const record = blackhole.audit.query({ type: 'AUDIT_VERIFIED' })[0]!
    expect(record.actor).toBe('token:oncall')
    expect(record.metadata.ok).toBe(true)
    const status = await blackhole.app.inject({ method: 'GET', url: '/api/v1/audit/status', headers: auth(viewer) })
    expect(status.json().lastVerify.actor).toBe('token:oncall')
    expect(status.json().records).toBe(body.records)
  })

  it('exports checkpoints', async () => {
    await blackhole.audit.checkpoint()
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/audit/checkpoints', headers: auth(viewer) })
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(body.publicKey).toMatch(/^[A-Za-z0-9+/]+=*$/)
    expect(body.checkpoints.length).toBeGreaterThan(0)
    const status = await blackhole.app.inject({ method: 'GET', url: '/api/v1/audit/status', headers: auth(viewer) })
    expect(status.json().lastCheckpoint.seq).toBe(body.checkpoints.at(-1).seq)
  })

  it('returns the log tail, bounded', async () => {
    mkdirSync(join(folder.dataDir, 'logs'), { recursive: true })
    const path = join(folder.dataDir, 'logs', 'identity.log')
    writeFileSync(path, '')
    for (let i = 1; i <= 3000; i++) appendFileSync(path, `line ${i}\n`)
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services/identity/logs', headers: auth(viewer) })
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(body.lines).toHaveLength(200)
    expect(body.lines[0]).toBe('line 2801')
    expect(body.lines[199]).toBe('line 3000')
    const some = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services/identity/logs?lines=5', headers: auth(viewer) })
    expect(some.json().lines).toEqual(['line 2996', 'line 2997', 'line 2998', 'line 2999', 'line 3000'])
    const tooMany = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services/identity/logs?lines=2001', headers: auth(viewer) })
    expect(tooMany.statusCode).toBe(400)
    expect(tooMany.json().message).toMatch(/^querystring\.lines/)
    const none = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services/storage/logs', headers: auth(viewer) })
    expect(none.json().lines).toEqual([])
    const unknown = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services/nope/logs', headers: auth(viewer) })
    expect(unknown.statusCode).toBe(404)
  })

  it('reads a tail without the whole file', async () => {
    const path = join(folder.dir, 'big.log')
    writeFileSync(path, `${'x'.repeat(3 * 1024 * 1024)}\nlast\n`)
    const tail = await readLogTail(path, 10)
    expect(tail!.lines).toEqual(['last'])
    expect(tail!.truncated).toBe(true)
    expect(await readLogTail(join(folder.dir, 'missing.log'), 10)).toBeNull()
  })

  it('returns empty processes and sockets for a stopped service', async () => {
    for (const route of ['processes', 'connections']) {
      const response = await blackhole.app.inject({ method: 'GET', url: `/api/v1/services/identity/${route}`, headers: auth(viewer) })
      expect(response.statusCode, route).toBe(200)
      expect(response.json().pid, route).toBeNull()
    }
    const bad = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services/identity/processes?x=1', headers: auth(viewer) })
    expect(bad.statusCode).toBe(400)
  })

  it('builds a process tree from a pid namespace', () => {
    // This process's namespace contains the test runner itself.
    const tree = processTree(process.pid)
    expect(tree.total).toBeGreaterThan(0)
    const all = JSON.stringify(tree.roots)
    expect(all).toContain(`"pid":${process.pid}`)
  })

  it('exports filtered events as jsonl', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/events/export?format=jsonl&type=ACCESS_DENIED&service=identity', headers: auth(viewer) })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toMatch(/^application\/jsonl/)
    expect(response.headers['content-disposition']).toMatch(/attachment; filename="blackhole-events-.*\.jsonl"/)
    const rows = response.body.trim().split('\n').map((line) => JSON.parse(line))
    expect(rows).toHaveLength(5)
    for (const row of rows) {
      expect(row.type).toBe('ACCESS_DENIED')
      expect(row.service).toBe('identity')
    }
    expect(rows[0].seq).toBeGreaterThan(rows[1].seq)
  })

  it('exports csv with escaping and max', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/events/export?format=csv&type=ACCESS_DENIED&max=3', headers: auth(viewer) })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toMatch(/^text\/csv/)
    const lines = response.body.split('\r\n')
    expect(lines[0]).toBe('seq,time,service,pid,type,severity,description,actor,metadata,hash')
    expect(lines.filter((line) => line !== '')).toHaveLength(4)
    const all = await blackhole.app.inject({ method: 'GET', url: '/api/v1/events/export?format=csv&type=ACCESS_DENIED&service=identity', headers: auth(viewer) })
    expect(all.body).toContain(`"'=cmd|""quoted"", comma\nnewline"`)
  })

  it('rejects bad export queries', async () => {
    const cases: [string, RegExp][] = [
      ['format=xml', /^querystring\.format/],
      ['', /^querystring\.format: missing required field/],
      [`format=csv&max=${MAX_EXPORT_ROWS + 1}`, /^querystring\.max/],
      ['format=csv&since=yesterday', /^querystring\.since/],
      ['format=csv&since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z', /^querystring\.since: .* is after until/],
      ['format=csv&bogus=1', /^querystring\.bogus: unknown field/],
    ]
    for (const [query, message] of cases) {
      const response = await blackhole.app.inject({ method: 'GET', url: `/api/v1/events/export?${query}`, headers: auth(viewer) })
      expect(response.statusCode, query).toBe(400)
      expect(response.json().message, query).toMatch(message)
    }
  })

  it('pages the export across queries', async () => {
    await blackhole.audit.appendMany(
      Array.from({ length: 2600 }, (_, i) => ({
        service: 'storage',
        type: 'NETWORK_CONNECT',
        severity: 'info' as const,
        description: `connect ${i}`,
        metadata: {},
        actor: null,
      })),
    )
    const all = await blackhole.app.inject({ method: 'GET', url: '/api/v1/events/export?format=jsonl&type=NETWORK_CONNECT', headers: auth(viewer) })
    const seqs = all.body.trim().split('\n').map((line) => JSON.parse(line).seq as number)
    expect(seqs).toHaveLength(2600)
    expect(new Set(seqs).size).toBe(2600)
    expect(seqs.every((seq, i) => i === 0 || seq < seqs[i - 1]!)).toBe(true)
    const capped = await blackhole.app.inject({ method: 'GET', url: '/api/v1/events/export?format=jsonl&type=NETWORK_CONNECT&max=1500', headers: auth(viewer) })
    expect(capped.body.trim().split('\n')).toHaveLength(1500)
  })

  it('filters the export by time', async () => {
    const future = new Date(Date.now() + 60_000).toISOString()
    const response = await blackhole.app.inject({ method: 'GET', url: `/api/v1/events/export?format=jsonl&since=${future}`, headers: auth(viewer) })
    expect(response.statusCode).toBe(200)
    expect(response.body).toBe('')
  })
})

describe('csvField', () => {
  it('quotes separators and guards formulas', () => {
    expect(csvField('plain')).toBe('plain')
    expect(csvField('a,b')).toBe('"a,b"')
    expect(csvField('say "hi"')).toBe('"say ""hi"""')
    expect(csvField('=1+1')).toBe("'=1+1")
    expect(csvField(null)).toBe('')
    expect(csvField(42)).toBe('42')
  })
})
