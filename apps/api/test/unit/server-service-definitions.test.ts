import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createToken } from '../../src/db/tokens.js'
import { openBlackhole, type Blackhole } from '../../src/server/app.js'
import { writeFileSync } from 'node:fs'
import { exampleConfigWithoutAutostart, tempFolder, type TempFolder } from './server-fixture.js'

const ADMIN_TOKEN = 'bh_test-admin-token-for-service-definitions'

describe('service definitions over the API', () => {
  let folder: TempFolder
  let blackhole: Blackhole
  let operatorToken: string

  const open = () =>
    openBlackhole({ configPath: folder.configPath, dataDir: folder.dataDir, adminToken: ADMIN_TOKEN, logger: false, webRoot: null, cgroupRoot: `blackhole-unit-${process.pid}` })
  const put = (name: string, payload: unknown, token = ADMIN_TOKEN) =>
    blackhole.app.inject({ method: 'PUT', url: `/api/v1/service-definitions/${name}`, headers: { authorization: `Bearer ${token}` }, payload: payload as object })
  const get = (url: string) => blackhole.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  const remove = (name: string) =>
    blackhole.app.inject({ method: 'DELETE', url: `/api/v1/service-definitions/${name}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })

  beforeAll(async () => {
    folder = tempFolder()
    blackhole = await open()
    operatorToken = (await createToken(blackhole.database.prisma, 'ops', 'operator')).token
  })

  afterAll(async () => {
    await blackhole?.close()
    folder?.remove()
  })

  it('adds a new service to the supervisor', async () => {
    const response = await put('worker', { profile: 'identity', command: 'sleep', args: ['3600'], autostart: false, environment: { MODE: 'batch' } })
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(body.version).toBe(1)
    expect(body.created).toBe(true)
    expect(body.overridesConfig).toBe(false)
    expect(body.appliesAt).toBe('now')
    const status = blackhole.supervisor.get('worker')
    expect(status.state).toBe('stopped')
    expect(status.command).toEqual(['sleep', '3600'])
  })

  it('overrides a config service and says so', async () => {
    const response = await put('identity', { profile: 'identity', command: 'node', args: ['services/other.mjs'], restart: 'always', autostart: false })
    expect(response.statusCode).toBe(200)
    expect(response.json().overridesConfig).toBe(true)
    expect(response.json().note).toMatch(/overrides the config file's service "identity"/)
    expect(blackhole.supervisor.get('identity').command).toEqual(['node', 'services/other.mjs'])
  })

  it('rejects with the policy messages', async () => {
    const response = await put('worker', { profile: 'nope', command: 'sleep' })
    expect(response.statusCode).toBe(400)
    expect(response.json().error).toBe('INVALID_REQUEST')
    expect(response.json().message).toContain('profile "nope"')
    const badName = await put('Bad_Name', { profile: 'identity', command: 'sleep' })
    expect(badName.statusCode).toBe(400)
    expect(badName.json().message).toContain('invalid service name "Bad_Name"')
    const persistent = await put('worker', { profile: 'identity', command: 'sleep', persistent_paths: ['/not/writable'] })
    expect(persistent.statusCode).toBe(400)
    expect(persistent.json().message).toContain('/not/writable')
  })

  it('rejects an unknown field by name', async () => {
    const response = await put('worker', { profile: 'identity', command: 'sleep', restart_policy: 'always' })
    expect(response.statusCode).toBe(400)
    expect(response.json().message).toBe('body.restart_policy: unknown field; remove it')
  })

  it('needs the admin role to write', async () => {
    const response = await put('worker', { profile: 'identity', command: 'sleep' }, operatorToken)
    expect(response.statusCode).toBe(403)
  })

  it('keeps every version with its author', async () => {
    await put('worker', { profile: 'identity', command: 'sleep', args: ['60'], autostart: false })
    const response = await get('/api/v1/service-definitions/worker')
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(body.source).toBe('api')
    expect(body.version).toBe(2)
    expect(body.versions.map((version: { version: number }) => version.version)).toEqual([2, 1])
    expect(body.versions[0].author).toBe('token:admin')
    expect(body.versions[1].definition.args).toEqual(['3600'])
  })

  it('lists config and API definitions', async () => {
    const response = await get('/api/v1/service-definitions')
    const rows = response.json() as { name: string; source: string }[]
    expect(rows.map((row) => `${row.name}:${row.source}`)).toEqual(['identity:api', 'storage:config', 'worker:api'])
  })

  it('applies stored definitions at the next start', async () => {
    await blackhole.close()
    blackhole = await open()
    expect(blackhole.supervisor.get('worker').command).toEqual(['sleep', '60'])
    expect(blackhole.supervisor.get('identity').command).toEqual(['node', 'services/other.mjs'])
  })

  it('restores the config definition on delete', async () => {
    const response = await remove('identity')
    expect(response.statusCode).toBe(200)
    expect(response.json().restoredConfig).toBe(true)
    expect(blackhole.supervisor.get('identity').command).toEqual(['node', 'services/token-service.mjs'])
    expect(blackhole.supervisor.get('identity').state).toBe('stopped')
    const history = (await get('/api/v1/service-definitions/identity')).json()
    expect(history.source).toBe('config')
    expect(history.versions[0].definition).toBeNull()
  })

  it('removes an API-only service on delete', async () => {
    const response = await remove('worker')
    expect(response.statusCode).toBe(200)
    expect(response.json().removed).toBe(true)
    expect(() => blackhole.supervisor.get('worker')).toThrow(/not found/)
    const again = await remove('worker')
    expect(again.statusCode).toBe(404)
    expect(again.json().error).toBe('DEFINITION_NOT_FOUND')
  })
})

describe('stored definitions after a config change', () => {
  const SPARE = '  spare:\n    resource_limits:\n      max_processes: 4\n'
  const withSpare = exampleConfigWithoutAutostart().replace('security_profiles:\n', `security_profiles:\n${SPARE}`)

  it('skips a definition whose profile is gone', async () => {
    const folder = tempFolder(withSpare)
    const options = {
      configPath: folder.configPath,
      dataDir: folder.dataDir,
      adminToken: ADMIN_TOKEN,
      logger: false,
      webRoot: null,
      cgroupRoot: `blackhole-unit-${process.pid}`,
    }
    let blackhole = await openBlackhole(options)
    try {
      const response = await blackhole.app.inject({
        method: 'PUT',
        url: '/api/v1/service-definitions/late',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        payload: { profile: 'spare', command: 'sleep', autostart: false },
      })
      expect(response.statusCode).toBe(200)
      await blackhole.close()

      writeFileSync(folder.configPath, exampleConfigWithoutAutostart())
      blackhole = await openBlackhole(options)
      expect(() => blackhole.supervisor.get('late')).toThrow(/not found/)
      const record = blackhole.audit.query({ type: 'SERVICE_DEFINITION_INVALID', limit: 1 })[0]
      expect(record?.service).toBe('late')
      expect(record?.description).toContain('profile "spare"')
    } finally {
      await blackhole.close()
      folder.remove()
    }
  })
})
