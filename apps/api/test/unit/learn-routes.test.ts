import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createToken } from '../../src/db/tokens.js'
import { openBlackhole, type Blackhole } from '../../src/server/app.js'
import { tempFolder, type TempFolder } from './server-fixture.js'

const ADMIN_TOKEN = 'bh_test-admin-token-for-the-learn-routes'

describe('learn routes', () => {
  let folder: TempFolder
  let blackhole: Blackhole
  let viewerToken: string
  let operatorToken: string
  const request = (method: 'GET' | 'POST', url: string, token = ADMIN_TOKEN, payload?: object) =>
    blackhole.app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload }) })

  beforeAll(async () => {
    folder = tempFolder()
    blackhole = await openBlackhole({
      configPath: folder.configPath, dataDir: folder.dataDir, adminToken: ADMIN_TOKEN, logger: false, webRoot: null,
      rulesPath: null, cgroupRoot: `blackhole-unit-learn-${process.pid}`,
    })
    viewerToken = (await createToken(blackhole.database.prisma, 'watcher', 'viewer')).token
    operatorToken = (await createToken(blackhole.database.prisma, 'oncall', 'operator')).token
  })

  afterAll(async () => {
    await blackhole?.close()
    folder?.remove()
  })

  it('returns no session before a run', async () => {
    const response = await request('GET', '/api/v1/services/identity/learn', viewerToken)
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ service: 'identity', session: null, applied: null })
  })

  it('rejects a viewer starting learn mode', async () => {
    const response = await request('POST', '/api/v1/services/identity/learn', viewerToken, { durationSeconds: 5 })
    expect(response.statusCode).toBe(403)
    expect(response.json().error).toBe('FORBIDDEN')
  })

  it('rejects an operator applying', async () => {
    const response = await request('POST', '/api/v1/services/identity/learn/apply', operatorToken)
    expect(response.statusCode).toBe(403)
    expect(response.json().message).toContain('admin')
  })

  it('rejects an operator starting learn mode', async () => {
    const response = await request('POST', '/api/v1/services/identity/learn', operatorToken, { durationSeconds: 20 })
    expect(response.statusCode).toBe(403)
    expect(response.json().message).toContain('admin')
    expect(blackhole.supervisor.get('identity').state).toBe('stopped')
  })

  it('rejects a duration out of range', async () => {
    const tooLong = await request('POST', '/api/v1/services/identity/learn', operatorToken, { durationSeconds: 7200 })
    expect(tooLong.statusCode).toBe(400)
    expect(tooLong.json().message).toContain('durationSeconds')
    const zero = await request('POST', '/api/v1/services/identity/learn', operatorToken, { durationSeconds: 0 })
    expect(zero.statusCode).toBe(400)
  })

  it('names an unknown service', async () => {
    const response = await request('GET', '/api/v1/services/nope/learn')
    expect(response.statusCode).toBe(404)
    expect(response.json().error).toBe('SERVICE_NOT_FOUND')
  })

  it('finds nothing to apply', async () => {
    const response = await request('POST', '/api/v1/services/identity/learn/apply')
    expect(response.statusCode).toBe(404)
    expect(response.json().error).toBe('LEARN_NOT_FOUND')
    expect(response.json().message).toContain('POST /api/v1/services/identity/learn')
  })

  it('rejects a query parameter', async () => {
    const response = await request('POST', '/api/v1/services/identity/learn?durationSeconds=5', operatorToken, {})
    expect(response.statusCode).toBe(400)
    expect(response.json().message).toContain('durationSeconds')
    expect(blackhole.supervisor.get('identity').state).toBe('stopped')
  })
})
