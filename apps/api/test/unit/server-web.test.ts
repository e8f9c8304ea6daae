import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openBlackhole, type Blackhole } from '../../src/server/app.js'
import { tempFolder, type TempFolder } from './server-fixture.js'

const INDEX_HTML = '<!doctype html><title>Blackhole test dashboard</title>'

describe('dashboard', () => {
  let folder: TempFolder
  let blackhole: Blackhole

  beforeAll(async () => {
    folder = tempFolder()
    const webRoot = join(folder.dir, 'web')
    mkdirSync(join(webRoot, 'assets'), { recursive: true })
    writeFileSync(join(webRoot, 'index.html'), INDEX_HTML)
    writeFileSync(join(webRoot, 'assets', 'app.js'), 'console.log(1)\n')
    blackhole = await openBlackhole({
      configPath: folder.configPath,
      dataDir: folder.dataDir,
      adminToken: 'bh_web-test-token',
      logger: false,
      webRoot,
      cgroupRoot: `blackhole-unit-${process.pid}`,
    })
  })

  afterAll(async () => {
    await blackhole?.close()
    folder?.remove()
  })

  it('serves index.html at /', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/' })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toMatch(/^text\/html/)
    expect(response.body).toBe(INDEX_HTML)
  })

  it('serves built assets', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/assets/app.js' })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toMatch(/javascript/)
  })

  it('falls back to index.html for client routes', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/services/identity' })
    expect(response.statusCode).toBe(200)
    expect(response.body).toBe(INDEX_HTML)
  })

  it('keeps JSON 404s for unknown API routes', async () => {
    const response = await blackhole.app.inject({
      method: 'GET',
      url: '/api/v1/missing',
      headers: { authorization: 'Bearer bh_web-test-token' },
    })
    expect(response.statusCode).toBe(404)
    expect(response.json().error).toBe('NOT_FOUND')
  })

  it('returns 404 JSON for a POST outside the API', async () => {
    const response = await blackhole.app.inject({ method: 'POST', url: '/services' })
    expect(response.statusCode).toBe(404)
    expect(response.json().error).toBe('NOT_FOUND')
  })
})
