import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openBlackhole, type Blackhole } from '../../src/server/app.js'
import { tempFolder, type TempFolder } from './server-fixture.js'

const ADMIN_TOKEN = 'bh_test-admin-token-for-the-report-routes'

describe('compliance report route', () => {
  let folder: TempFolder
  let blackhole: Blackhole
  const get = (url: string) => blackhole.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  const period = () => `from=${new Date(Date.now() - 3_600_000).toISOString()}&to=${new Date(Date.now() + 60_000).toISOString()}`

  beforeAll(async () => {
    folder = tempFolder()
    blackhole = await openBlackhole({
      configPath: folder.configPath, dataDir: folder.dataDir, adminToken: ADMIN_TOKEN, logger: false, webRoot: null,
      rulesPath: null, cgroupRoot: `blackhole-unit-report-${process.pid}`,
    })
  })

  afterAll(async () => {
    await blackhole?.close()
    folder?.remove()
  })

  it('returns the report as JSON', async () => {
    const response = await get(`/api/v1/reports/compliance?${period()}`)
    expect(response.statusCode).toBe(200)
    const report = response.json()
    expect(report.services.map((service: { name: string }) => service.name)).toEqual(['identity', 'storage'])
    expect(report.services[0].profileVersions[0].version).toBe(1)
    expect(report.services[0].profileVersions[0].score).toBeTypeOf('number')
    expect(report.events.byType.SUPERVISOR_STARTED).toBe(1)
    expect(report.audit.verification.ok).toBe(true)
    expect(report.incidents.total).toBe(0)
  })

  it('returns a printable page', async () => {
    const response = await get(`/api/v1/reports/compliance?${period()}&format=html`)
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(response.headers['content-security-policy']).toBe("default-src 'none'; style-src 'unsafe-inline'")
    expect(response.body).toContain('<h1>Blackhole compliance report</h1>')
    expect(response.body).toContain('<span class="ok">intact</span>')
  })

  it('rejects an invalid period', async () => {
    const bad = await get('/api/v1/reports/compliance?from=last-week&to=2027-01-01')
    expect(bad.statusCode).toBe(400)
    expect(bad.json().message).toContain('invalid from "last-week"')
    const empty = await get('/api/v1/reports/compliance?from=2027-01-01&to=2026-01-01')
    expect(empty.statusCode).toBe(400)
    expect(empty.json().message).toContain('the period is empty')
    const missing = await get('/api/v1/reports/compliance?from=2026-01-01')
    expect(missing.statusCode).toBe(400)
    expect(missing.json().message).toContain('to')
  })
})
