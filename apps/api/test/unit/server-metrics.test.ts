import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createToken } from '../../src/db/tokens.js'
import { openBlackhole, type Blackhole } from '../../src/server/app.js'
import { escapeLabel } from '../../src/server/metrics.js'
import { tempFolder, type TempFolder } from './server-fixture.js'

const ADMIN_TOKEN = 'bh_test-admin-token-for-the-metrics-tests'

/** Returns the value of the sample line `name{labels}`, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe('GET /metrics', () => {
  let folder: TempFolder
  let blackhole: Blackhole
  let viewerToken: string

  beforeAll(async () => {
    folder = tempFolder()
    blackhole = await openBlackhole({
      configPath: folder.configPath,
      dataDir: folder.dataDir,
      adminToken: ADMIN_TOKEN,
      logger: false,
      webRoot: null,
      cgroupRoot: `blackhole-unit-${process.pid}`,
    })
    viewerToken = (await createToken(blackhole.database.prisma, 'scraper', 'viewer')).token
  })

  afterAll(async () => {
    await blackhole?.close()
    folder?.remove()
  })

  const scrape = () => blackhole.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${viewerToken}` } })

  it('needs a token', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/metrics' })
    expect(response.statusCode).toBe(401)
    expect(response.json().error).toBe('UNAUTHORIZED')
  })

  it('serves format 0.0.4 to a viewer', async () => {
    const response = await scrape()
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(response.body.endsWith('\n')).toBe(true)
  })

  it('gives every family HELP and TYPE lines', async () => {
    const text = (await scrape()).body
    const families = [
      ['blackhole_service_cpu_seconds_total', 'counter'],
      ['blackhole_service_memory_bytes', 'gauge'],
      ['blackhole_service_pids', 'gauge'],
      ['blackhole_service_state', 'gauge'],
      ['blackhole_service_restarts_total', 'counter'],
      ['blackhole_events_total', 'counter'],
      ['blackhole_notify_dropped_total', 'counter'],
      ['blackhole_audit_records_appended_total', 'counter'],
      ['blackhole_http_requests_total', 'counter'],
    ]
    for (const [name, type] of families) {
      expect(text).toMatch(new RegExp(`^# HELP ${name} \\S`, 'm'))
      expect(text).toContain(`# TYPE ${name} ${type}\n`)
    }
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue
      expect(line).toMatch(/^blackhole_[a-z_]+(\{[^}]*\})? [0-9.e+-]+$/)
    }
  })

  it('reports each service state', async () => {
    const text = (await scrape()).body
    expect(sample(text, 'blackhole_service_state{service="identity",state="stopped"}')).toBe(1)
    expect(sample(text, 'blackhole_service_state{service="identity",state="running"}')).toBe(0)
    expect(sample(text, 'blackhole_service_restarts_total{service="storage"}')).toBe(0)
    expect(sample(text, 'blackhole_service_memory_bytes{service="storage"}')).toBe(0)
  })

  it('counts audit records by type and dropped notifications', async () => {
    const before = sample((await scrape()).body, 'blackhole_audit_records_appended_total') ?? 0
    await blackhole.audit.append({
      service: 'identity',
      type: 'NOTIFY_DROPPED',
      severity: 'medium',
      description: 'test drop',
      metadata: { droppedByNotifier: 7, summarised: 3 },
      actor: 'supervisor',
    })
    const text = (await scrape()).body
    expect(sample(text, 'blackhole_events_total{type="NOTIFY_DROPPED"}')).toBe(1)
    expect(sample(text, 'blackhole_notify_dropped_total{service="identity"}')).toBe(10)
    expect(sample(text, 'blackhole_audit_records_appended_total')).toBe(before + 1)
  })

  it('counts HTTP responses by route and status', async () => {
    await blackhole.app.inject({ method: 'GET', url: '/api/v1/services/nope', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    await blackhole.app.inject({ method: 'GET', url: '/api/v1/services/nope', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    const text = (await scrape()).body
    expect(sample(text, 'blackhole_http_requests_total{method="GET",route="/api/v1/services/:name",status="404"}')).toBe(2)
    expect(sample(text, 'blackhole_http_requests_total{method="GET",route="/metrics",status="401"}')).toBeGreaterThanOrEqual(1)
  })

  it('escapes label values', () => {
    expect(escapeLabel('a"b')).toBe('a\\"b')
    expect(escapeLabel('a\\b')).toBe('a\\\\b')
    expect(escapeLabel('a\nb')).toBe('a\\nb')
  })
})
