import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createToken } from '../../src/db/tokens.js'
import { openBlackhole, type Blackhole } from '../../src/server/app.js'
import { FailureLimiter } from '../../src/server/auth.js'
import { EXAMPLE_RULES, tempFolder, type TempFolder } from './server-fixture.js'

const ADMIN_TOKEN = 'bh_test-admin-token-for-the-api-tests'

describe('REST API', () => {
  let folder: TempFolder
  let blackhole: Blackhole
  let viewerToken: string

  const auth = (token = ADMIN_TOKEN) => ({ authorization: `Bearer ${token}` })

  beforeAll(async () => {
    folder = tempFolder()
    // A copy, because PUT /api/v1/rules would rewrite the file in place.
    copyFileSync(EXAMPLE_RULES, join(folder.dir, 'rules.yaml'))
    blackhole = await openBlackhole({
      configPath: folder.configPath,
      dataDir: folder.dataDir,
      adminToken: ADMIN_TOKEN,
      logger: false,
      webRoot: null,
      cgroupRoot: `blackhole-unit-${process.pid}`,
      limiter: new FailureLimiter(),
    })
    viewerToken = (await createToken(blackhole.database.prisma, 'watcher', 'viewer')).token
  })

  afterAll(async () => {
    await blackhole?.close()
    folder?.remove()
  })

  const authFailures = async () => blackhole.audit.query({ type: 'AUTH_FAILED', limit: 1000 })

  it('health needs no token', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/health' })
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(body.status).toBe('ok')
    expect(body.version).toBe('0.1.0')
    expect(typeof body.uptimeSeconds).toBe('number')
  })

  it('rejects a request without a token', async () => {
    const before = (await authFailures()).length
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services' })
    expect(response.statusCode).toBe(401)
    expect(response.json().error).toBe('UNAUTHORIZED')
    expect(response.json().message).toMatch(/^missing bearer token; send the header "Authorization: Bearer TOKEN"/)
    // No credential is not a guess, so it is neither recorded nor rate limited.
    expect((await authFailures()).length).toBe(before)
  })

  it('rejects a wrong token', async () => {
    const before = (await authFailures()).length
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services', headers: auth('bh_wrong') })
    expect(response.statusCode).toBe(401)
    expect(response.json().error).toBe('UNAUTHORIZED')
    const records = await authFailures()
    expect(records.length).toBe(before + 1)
    expect(records[0]!.metadata.reason).toBe('invalid or revoked token')
    expect(JSON.stringify(records[0])).not.toContain('bh_wrong')
  })

  it('needs a token for encoded API paths', async () => {
    for (const url of ['/%61pi/v1/services', '/api/v1/%73ervices', '/%2Fapi/v1/services', '/api/v1/services/', '/API/v1/services']) {
      const response = await blackhole.app.inject({ method: 'GET', url })
      expect(response.statusCode, url).not.toBe(200)
      expect(response.json().error, url).not.toBeUndefined()
    }
    const encoded = await blackhole.app.inject({ method: 'GET', url: '/%61pi/v1/services' })
    expect(encoded.statusCode).toBe(401)
  })

  it('rejects an unknown API route after auth', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/nothing', headers: auth() })
    expect(response.statusCode).toBe(404)
    expect(response.json()).toEqual({ error: 'NOT_FOUND', message: 'route GET /api/v1/nothing not found; the API lives under /api/v1' })
  })

  it('answers 426 for plain HTTP to the stream', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/stream' })
    expect(response.statusCode).toBe(426)
    expect(response.json().error).toBe('UPGRADE_REQUIRED')
  })

  it('names the missing dashboard build', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/' })
    expect(response.statusCode).toBe(404)
    expect(response.json().message).toBe('route GET / not found; the dashboard is not built, so run `pnpm build` to serve it')
  })

  it('updates lastUsedAt at most once a minute', async () => {
    const prisma = blackhole.database.prisma
    const { token, identity } = await createToken(prisma, 'clock', 'viewer')
    expect((await prisma.apiToken.findUnique({ where: { id: identity.id } }))?.lastUsedAt).toBeNull()
    await blackhole.app.inject({ method: 'GET', url: '/api/v1/services', headers: auth(token) })
    const first = (await prisma.apiToken.findUnique({ where: { id: identity.id } }))?.lastUsedAt
    expect(first).toBeInstanceOf(Date)
    await new Promise((resolve) => setTimeout(resolve, 20))
    await blackhole.app.inject({ method: 'GET', url: '/api/v1/services', headers: auth(token) })
    const second = (await prisma.apiToken.findUnique({ where: { id: identity.id } }))?.lastUsedAt
    expect(second?.getTime()).toBe(first!.getTime())
  })

  it('lists the services', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services', headers: auth() })
    expect(response.statusCode).toBe(200)
    const services = response.json() as { name: string; state: string; profile: string; pid: number | null }[]
    expect(services.map((service) => service.name).sort()).toEqual(['identity', 'storage'])
    for (const service of services) {
      expect(service.state).toBe('stopped')
      expect(service.pid).toBeNull()
      expect(service.profile).toBe(service.name)
    }
  })

  it('sets the security headers', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services', headers: auth() })
    expect(response.headers['x-content-type-options']).toBe('nosniff')
    expect(response.headers['x-frame-options']).toBe('DENY')
    expect(response.headers['referrer-policy']).toBe('no-referrer')
    expect(response.headers['cache-control']).toBe('no-store')
  })

  it('returns one service', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services/storage', headers: auth() })
    expect(response.statusCode).toBe(200)
    expect(response.json().name).toBe('storage')
  })

  it('names the known services in a 404', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services/x', headers: auth() })
    expect(response.statusCode).toBe(404)
    expect(response.json()).toEqual({
      error: 'SERVICE_NOT_FOUND',
      message: 'service "x" not found; known services: identity, storage',
    })
  })

  it('returns 404 for an action on an unknown service', async () => {
    const response = await blackhole.app.inject({ method: 'POST', url: '/api/v1/services/x/terminate', headers: auth() })
    expect(response.statusCode).toBe(404)
    expect(response.json().error).toBe('SERVICE_NOT_FOUND')
  })

  it('returns 409 when resuming a stopped service', async () => {
    const response = await blackhole.app.inject({ method: 'POST', url: '/api/v1/services/identity/resume', headers: auth() })
    expect(response.statusCode).toBe(409)
    expect(response.json().error).toBe('INVALID_STATE')
    expect(response.json().message).toContain('identity')
  })

  it('sets the mode of a stopped service', async () => {
    const response = await blackhole.app.inject({
      method: 'POST',
      url: '/api/v1/services/identity/enforce-mode',
      headers: { ...auth(), 'content-type': 'application/json' },
      payload: { mode: 'permissive' },
    })
    expect(response.statusCode).toBe(200)
    expect(response.json().service.state).toBe('stopped')
    const [changed] = blackhole.audit.query({ type: 'ENFORCE_MODE_CHANGED', limit: 1 })
    expect(changed?.severity).toBe('high')
    expect(changed?.metadata).toMatchObject({ previous: 'enforce', mode: 'permissive', restart: false })
    const back = await blackhole.app.inject({
      method: 'POST',
      url: '/api/v1/services/identity/enforce-mode',
      headers: { ...auth(), 'content-type': 'application/json' },
      payload: { mode: 'enforce' },
    })
    expect(back.statusCode).toBe(200)
  })

  it('rejects an unknown mode naming the field', async () => {
    const response = await blackhole.app.inject({
      method: 'POST',
      url: '/api/v1/services/identity/enforce-mode',
      headers: { ...auth(), 'content-type': 'application/json' },
      payload: { mode: 'audit' },
    })
    expect(response.statusCode).toBe(400)
    expect(response.json().message).toContain('body.mode')
  })

  it('leaves the mode switch to admins', async () => {
    const response = await blackhole.app.inject({
      method: 'POST',
      url: '/api/v1/services/identity/enforce-mode',
      headers: { ...auth(viewerToken), 'content-type': 'application/json' },
      payload: { mode: 'disabled' },
    })
    expect(response.statusCode).toBe(403)
  })

  it('rejects a non-numeric limit naming the field', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/events?limit=abc', headers: auth() })
    expect(response.statusCode).toBe(400)
    expect(response.json().error).toBe('INVALID_REQUEST')
    expect(response.json().message).toBe('querystring.limit: must be integer')
  })

  it('rejects a limit above 1000 naming the field', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/events?limit=100000', headers: auth() })
    expect(response.statusCode).toBe(400)
    expect(response.json().message).toBe('querystring.limit: must be <= 1000')
  })

  it('rejects an unknown query field', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/events?limt=5', headers: auth() })
    expect(response.statusCode).toBe(400)
    expect(response.json().message).toBe('querystring.limt: unknown field; remove it')
  })

  it('rejects a bad severity and graceMs', async () => {
    const severity = await blackhole.app.inject({ method: 'GET', url: '/api/v1/events?severity=urgent', headers: auth() })
    expect(severity.statusCode).toBe(400)
    expect(severity.json().message).toMatch(/^querystring\.severity: must be equal to one of the allowed values/)
    const grace = await blackhole.app.inject({
      method: 'POST',
      url: '/api/v1/services/identity/terminate?graceMs=-1',
      headers: auth(),
    })
    expect(grace.statusCode).toBe(400)
    expect(grace.json().message).toBe('querystring.graceMs: must be >= 0')
  })

  it('lists events newest first with paging', async () => {
    const first = await blackhole.app.inject({ method: 'GET', url: '/api/v1/events?limit=2', headers: auth() })
    expect(first.statusCode).toBe(200)
    const page = first.json() as { seq: number; type: string }[]
    expect(page.length).toBe(2)
    expect(page[0]!.seq).toBeGreaterThan(page[1]!.seq)
    const next = await blackhole.app.inject({ method: 'GET', url: `/api/v1/events?before=${page[1]!.seq}&limit=1000`, headers: auth() })
    const rest = next.json() as { seq: number; type: string }[]
    expect(rest.every((record) => record.seq < page[1]!.seq)).toBe(true)
    const started = await blackhole.app.inject({ method: 'GET', url: '/api/v1/events?type=SUPERVISOR_STARTED', headers: auth() })
    expect((started.json() as { type: string; actor: string }[])[0]).toMatchObject({ type: 'SUPERVISOR_STARTED', actor: 'supervisor' })
  })

  it('filters events by time range', async () => {
    const all = (await blackhole.app.inject({ method: 'GET', url: '/api/v1/events?limit=1000', headers: auth() })).json() as { time: string }[]
    expect(all.length).toBeGreaterThan(0)
    const newest = all[0]!.time
    const future = new Date(Date.parse(newest) + 60_000).toISOString()
    const none = await blackhole.app.inject({ method: 'GET', url: `/api/v1/events?since=${future}`, headers: auth() })
    expect(none.statusCode).toBe(200)
    expect(none.json()).toEqual([])
    const upTo = await blackhole.app.inject({ method: 'GET', url: `/api/v1/events?until=${future}&limit=1000`, headers: auth() })
    expect((upTo.json() as unknown[]).length).toBe(all.length)
    const bad = await blackhole.app.inject({ method: 'GET', url: '/api/v1/events?since=yesterday', headers: auth() })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().message).toBe('querystring.since: must match format "date-time"')
  })

  it('rejects a body over 64 KiB with 413', async () => {
    const payload = JSON.stringify({ padding: 'x'.repeat(70 * 1024) })
    const response = await blackhole.app.inject({
      method: 'POST',
      url: '/api/v1/services/identity/stop',
      headers: { ...auth(), 'content-type': 'application/json' },
      payload,
    })
    expect(response.statusCode).toBe(413)
    expect(response.json()).toEqual({ error: 'PAYLOAD_TOO_LARGE', message: 'request body too large; the limit is 65536 bytes' })
  })

  it('lets a viewer read but not act', async () => {
    const read = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services', headers: auth(viewerToken) })
    expect(read.statusCode).toBe(200)
    const act = await blackhole.app.inject({ method: 'POST', url: '/api/v1/services/identity/start', headers: auth(viewerToken) })
    expect(act.statusCode).toBe(403)
    expect(act.json().error).toBe('FORBIDDEN')
    expect(act.json().message).toBe('token "watcher" has the viewer role, which may only send GET requests')
  })

  it('lists the profiles', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/profiles', headers: auth() })
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual([
      {
        name: 'identity',
        user: 'blackhole_identity',
        group: 'blackhole_services',
        capabilities: ['CAP_NET_BIND_SERVICE'],
        enforceMode: 'enforce',
        networkMode: 'none',
      },
      {
        name: 'storage',
        user: 'blackhole_storage',
        group: 'blackhole_services',
        capabilities: ['CAP_NET_BIND_SERVICE', 'CAP_SYS_RESOURCE'],
        enforceMode: 'enforce',
        networkMode: 'none',
      },
    ])
  })

  it('returns a profile with its stored text', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/profiles/identity', headers: auth() })
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(body.name).toBe('identity')
    expect(body.profile.network.allowedPorts).toEqual([50001])
    expect(body.yaml).toMatch(/^identity:\n {2}user: blackhole_identity\n/)
  })

  it('names the known profiles in a 404', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/profiles/nope', headers: auth() })
    expect(response.statusCode).toBe(404)
    expect(response.json()).toEqual({ error: 'PROFILE_NOT_FOUND', message: 'profile "nope" not found; known profiles: identity, storage' })
  })

  it('serves the detection rules beside the config', async () => {
    expect(blackhole.rulesPath).toBe(join(folder.dir, 'rules.yaml'))
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/rules', headers: auth() })
    expect(response.statusCode).toBe(200)
    const names = (response.json().rules as { name: string }[]).map((rule) => rule.name)
    expect(names).toContain('denial-flood')
  })

  it('guards the incident routes with the token', async () => {
    const anonymous = await blackhole.app.inject({ method: 'GET', url: '/api/v1/incidents' })
    expect(anonymous.statusCode).toBe(401)
    const authorized = await blackhole.app.inject({ method: 'GET', url: '/api/v1/incidents', headers: auth() })
    expect(authorized.statusCode).toBe(200)
  })

  it('returns an empty resource history', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services/identity/history', headers: auth() })
    expect(response.statusCode).toBe(200)
    expect(response.json().service).toBe('identity')
    expect(response.json().samples).toEqual([])
  })

  it('rejects a history range that ends first', async () => {
    const response = await blackhole.app.inject({
      method: 'GET',
      url: '/api/v1/services/identity/history?from=2000&to=1000',
      headers: auth(),
    })
    expect(response.statusCode).toBe(400)
    expect(response.json().message).toBe('querystring.from: 2000 is after to (1000); swap them')
    const unknown = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services/x/history', headers: auth() })
    expect(unknown.statusCode).toBe(404)
  })

  it('describes the routes in OpenAPI', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })
    expect(response.statusCode).toBe(200)
    const document = response.json()
    expect(document.openapi).toBe('3.1.0')
    const service = document.paths['/api/v1/services/{name}'].get
    expect(service.parameters).toEqual([
      { name: 'name', in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 64 } },
    ])
    expect(service.security).toEqual([{ bearerAuth: [] }, { sessionCookie: [] }])
    const limit = document.paths['/api/v1/events'].get.parameters.find((parameter: { name: string }) => parameter.name === 'limit')
    expect(limit.schema.maximum).toBe(1000)
    expect(document.paths['/api/v1/health'].get.security).toBeUndefined()
    expect(document.paths['/api/v1/services/{name}/terminate'].post).toBeDefined()
    expect(document.paths['/api/v1/incidents'].get).toBeDefined()
  })

  it('reports host facts', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/host', headers: auth() })
    expect(response.statusCode).toBe(200)
    const facts = response.json()
    expect(typeof facts.root).toBe('boolean')
    expect(['v1', 'v2', 'hybrid', 'none']).toContain(facts.cgroups.layout)
    expect(typeof facts.seccompNotify).toBe('boolean')
    expect(typeof facts.landlockAbi).toBe('number')
  })
})

describe('failed-auth rate limit', () => {
  let folder: TempFolder
  let blackhole: Blackhole

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
  })

  afterAll(async () => {
    await blackhole?.close()
    folder?.remove()
  })

  it('answers 429 after 10 failures in a minute', async () => {
    const remoteAddress = '192.0.2.7'
    for (let attempt = 1; attempt <= 10; attempt++) {
      const response = await blackhole.app.inject({
        method: 'GET',
        url: '/api/v1/services',
        remoteAddress,
        headers: { authorization: `Bearer guess-${attempt}` },
      })
      expect(response.statusCode).toBe(401)
    }
    const limited = await blackhole.app.inject({
      method: 'GET',
      url: '/api/v1/services',
      remoteAddress,
      headers: { authorization: 'Bearer guess-11' },
    })
    expect(limited.statusCode).toBe(429)
    expect(limited.json().error).toBe('RATE_LIMITED')
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0)
    const again = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services', remoteAddress, headers: { authorization: 'Bearer guess-12' } })
    expect(again.statusCode).toBe(429)
    // A valid token still works from a limited address, so bad tokens sent
    // by another local user cannot lock the admin out.
    const valid = await blackhole.app.inject({
      method: 'GET',
      url: '/api/v1/services',
      remoteAddress,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(valid.statusCode).toBe(200)

    const records = blackhole.audit.query({ type: 'AUTH_FAILED', limit: 100 })
    const fromAddress = records.filter((record) => record.metadata.address === remoteAddress)
    // Ten failures and one record for the lockout; the second 429 adds none.
    expect(fromAddress.length).toBe(11)
    expect(fromAddress[0]!.metadata.rateLimited).toBe(true)

    const otherAddress = await blackhole.app.inject({
      method: 'GET',
      url: '/api/v1/services',
      remoteAddress: '192.0.2.8',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(otherAddress.statusCode).toBe(200)
  })
})
