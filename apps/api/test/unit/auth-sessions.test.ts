import { createHash } from 'node:crypto'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { hashPassword, scryptInFlight, verifyPassword } from '../../src/db/users.js'
import { openBlackhole, type Blackhole } from '../../src/server/app.js'
import { FailureLimiter, SESSION_COOKIE } from '../../src/server/auth.js'
import { tempFolder, type TempFolder } from './server-fixture.js'

const ADMIN_TOKEN = 'bh_test-admin-token-for-the-session-tests'

interface Login {
  cookie: string
  setCookie: string
  csrfToken: string
  body: Record<string, unknown>
}

describe('users, tokens and sessions', () => {
  let folder: TempFolder
  let blackhole: Blackhole

  const bearer = (token = ADMIN_TOKEN) => ({ authorization: `Bearer ${token}` })

  beforeAll(async () => {
    folder = tempFolder()
    blackhole = await openBlackhole({
      configPath: folder.configPath,
      dataDir: folder.dataDir,
      adminToken: ADMIN_TOKEN,
      logger: false,
      webRoot: null,
      cgroupRoot: `blackhole-unit-${process.pid}`,
      limiter: new FailureLimiter(1000),
    })
    for (const [name, role] of [['alice', 'admin'], ['oscar', 'operator'], ['vera', 'viewer']]) {
      const response = await blackhole.app.inject({
        method: 'POST',
        url: '/api/v1/users',
        headers: bearer(),
        payload: { name, role, password: `${name}-password` },
      })
      expect(response.statusCode).toBe(201)
    }
  })

  afterAll(async () => {
    await blackhole?.close()
    folder?.remove()
  })

  async function login(payload: Record<string, unknown>): Promise<Login> {
    const response = await blackhole.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload })
    expect(response.statusCode).toBe(200)
    const setCookie = String(response.headers['set-cookie'])
    const value = new RegExp(`${SESSION_COOKIE}=([^;]+)`).exec(setCookie)![1]!
    const body = response.json()
    return { cookie: `${SESSION_COOKIE}=${value}`, setCookie, csrfToken: body.csrfToken, body }
  }

  it('hashes passwords with scrypt', async () => {
    const hash = await hashPassword('correct horse')
    expect(hash).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/)
    expect(await verifyPassword('correct horse', hash)).toBe(true)
    expect(await verifyPassword('correct horsE', hash)).toBe(false)
    expect(await verifyPassword('x', 'plain')).toBe(false)
  })

  it('runs at most four scrypt calls at once', async () => {
    let peak = 0
    const hashes = Array.from({ length: 10 }, () => hashPassword('parallel-password'))
    const timer = setInterval(() => (peak = Math.max(peak, scryptInFlight())), 1)
    const results = await Promise.all(hashes)
    clearInterval(timer)
    expect(new Set(results).size).toBe(10)
    expect(peak).toBeGreaterThan(0)
    expect(peak).toBeLessThanOrEqual(4)
    expect(scryptInFlight()).toBe(0)
  })

  it('lists users without password hashes', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/users', headers: bearer() })
    expect(response.statusCode).toBe(200)
    const users = response.json() as Record<string, unknown>[]
    expect(users.map((user) => user.name)).toEqual(['alice', 'oscar', 'vera'])
    expect(users[2]!.role).toBe('viewer')
    expect(users[2]!.disabled).toBe(false)
    expect(response.body).not.toContain('scrypt')
  })

  it('rejects a duplicate user with 409', async () => {
    const response = await blackhole.app.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: bearer(),
      payload: { name: 'alice', role: 'viewer', password: 'another-password' },
    })
    expect(response.statusCode).toBe(409)
    expect(response.json().error).toBe('USER_EXISTS')
  })

  it('rejects a short password naming the field', async () => {
    const response = await blackhole.app.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: bearer(),
      payload: { name: 'shorty', role: 'viewer', password: 'short' },
    })
    expect(response.statusCode).toBe(400)
    expect(response.json().message).toMatch(/^password: must be 8 to 1024 characters long, got 5/)
  })

  it('signs in with a password and sets a strict cookie', async () => {
    const session = await login({ name: 'alice', password: 'alice-password' })
    expect(session.setCookie).toContain('HttpOnly')
    expect(session.setCookie).toContain('SameSite=Strict')
    expect(session.setCookie).not.toContain('Secure')
    expect(session.body.user).toBe('alice')
    expect(session.body.role).toBe('admin')
    expect(session.csrfToken).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const expiresIn = Date.parse(String(session.body.expiresAt)) - Date.now()
    expect(expiresIn).toBeGreaterThan(11.9 * 3600_000)
    expect(expiresIn).toBeLessThanOrEqual(12 * 3600_000)

    const current = await blackhole.app.inject({ method: 'GET', url: '/api/v1/auth/session', headers: { cookie: session.cookie } })
    expect(current.statusCode).toBe(200)
    expect(current.json().subject).toBe('user:alice')
    expect(current.json().csrfToken).toBe(session.csrfToken)
  })

  it('stores only the session id hash', async () => {
    const session = await login({ name: 'alice', password: 'alice-password' })
    const id = session.cookie.slice(SESSION_COOKIE.length + 1)
    const db = new Database(blackhole.database.path, { readonly: true })
    try {
      const hashes = (db.prepare('SELECT idHash FROM Session').all() as { idHash: string }[]).map((row) => row.idHash)
      expect(hashes).toContain(createHash('sha256').update(id).digest('hex'))
      expect(hashes).not.toContain(id)
    } finally {
      db.close()
    }
  })

  it('records a wrong password and answers 401', async () => {
    const before = blackhole.audit.query({ type: 'AUTH_FAILED', limit: 1000 }).length
    const response = await blackhole.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { name: 'alice', password: 'wrong-password' },
    })
    expect(response.statusCode).toBe(401)
    expect(response.headers['set-cookie']).toBeUndefined()
    const records = blackhole.audit.query({ type: 'AUTH_FAILED', limit: 1000 })
    expect(records.length).toBe(before + 1)
    expect(records[0]!.metadata.user).toBe('alice')
    expect(JSON.stringify(records[0])).not.toContain('wrong-password')
  })

  it('requires the CSRF token for cookie writes', async () => {
    const session = await login({ name: 'alice', password: 'alice-password' })
    const payload = { name: 'csrf-probe', role: 'viewer' }
    const without = await blackhole.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: { cookie: session.cookie }, payload })
    expect(without.statusCode).toBe(403)
    expect(without.json().error).toBe('CSRF_FAILED')
    const wrong = await blackhole.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: { cookie: session.cookie, 'x-csrf-token': 'x'.repeat(43) },
      payload,
    })
    expect(wrong.statusCode).toBe(403)
    const right = await blackhole.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: { cookie: session.cookie, 'x-csrf-token': session.csrfToken },
      payload,
    })
    expect(right.statusCode).toBe(201)
    const created = blackhole.audit.query({ type: 'TOKEN_CREATED', limit: 1 })[0]!
    expect(created.actor).toBe('user:alice')
  })

  it('exempts bearer requests from CSRF', async () => {
    const response = await blackhole.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: bearer(),
      payload: { name: 'bearer-made', role: 'viewer' },
    })
    expect(response.statusCode).toBe(201)
  })

  it('limits roles per route', async () => {
    const viewer = await login({ name: 'vera', password: 'vera-password' })
    const operator = await login({ name: 'oscar', password: 'oscar-password' })
    const viewerList = await blackhole.app.inject({ method: 'GET', url: '/api/v1/users', headers: { cookie: viewer.cookie } })
    expect(viewerList.statusCode).toBe(403)
    expect(viewerList.json().message).toBe('user "vera" has the viewer role; GET /api/v1/users needs admin or above')
    const viewerServices = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services', headers: { cookie: viewer.cookie } })
    expect(viewerServices.statusCode).toBe(200)
    const viewerWrite = await blackhole.app.inject({
      method: 'POST',
      url: '/api/v1/services/identity/stop',
      headers: { cookie: viewer.cookie, 'x-csrf-token': viewer.csrfToken },
    })
    expect(viewerWrite.statusCode).toBe(403)
    const operatorTokens = await blackhole.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: { cookie: operator.cookie, 'x-csrf-token': operator.csrfToken },
      payload: { name: 'sneaky', role: 'admin' },
    })
    expect(operatorTokens.statusCode).toBe(403)
  })

  it('lists tokens without secrets and revokes them', async () => {
    const created = await blackhole.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: bearer(),
      payload: { name: 'ci', role: 'operator', user: 'oscar' },
    })
    expect(created.statusCode).toBe(201)
    const { id, token } = created.json() as { id: number; token: string }
    expect(token).toMatch(/^bh_/)
    const used = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services', headers: bearer(token) })
    expect(used.statusCode).toBe(200)

    const list = await blackhole.app.inject({ method: 'GET', url: '/api/v1/tokens', headers: bearer() })
    expect(list.statusCode).toBe(200)
    expect(list.body).not.toContain(token)
    expect(list.body).not.toContain('tokenHash')
    const entry = (list.json() as Record<string, unknown>[]).find((row) => row.id === id)!
    expect(entry.user).toBe('oscar')
    expect(entry.role).toBe('operator')
    expect(typeof entry.lastUsedAt).toBe('string')
    expect(entry.revokedAt).toBeNull()

    const revoked = await blackhole.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${id}`, headers: bearer() })
    expect(revoked.statusCode).toBe(200)
    expect(typeof revoked.json().revokedAt).toBe('string')
    const after = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services', headers: bearer(token) })
    expect(after.statusCode).toBe(401)
    const missing = await blackhole.app.inject({ method: 'DELETE', url: '/api/v1/tokens/99999', headers: bearer() })
    expect(missing.statusCode).toBe(404)
    expect(missing.json().error).toBe('TOKEN_NOT_FOUND')
  })

  it('rejects a token role above its owner', async () => {
    const response = await blackhole.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: bearer(),
      payload: { name: 'too-high', role: 'admin', user: 'vera' },
    })
    expect(response.statusCode).toBe(400)
    expect(response.json().message).toMatch(/^body\.role: "admin" is above the viewer role of user "vera"/)
  })

  it('ends sessions and tokens of a disabled user', async () => {
    const session = await login({ name: 'oscar', password: 'oscar-password' })
    const token = (
      await blackhole.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer(), payload: { name: 'oscar-cli', role: 'viewer', user: 'oscar' } })
    ).json().token as string
    const disabled = await blackhole.app.inject({
      method: 'PATCH',
      url: '/api/v1/users/oscar',
      headers: bearer(),
      payload: { disabled: true },
    })
    expect(disabled.statusCode).toBe(200)
    expect(disabled.json().disabled).toBe(true)
    const bySession = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services', headers: { cookie: session.cookie } })
    expect(bySession.statusCode).toBe(401)
    const byToken = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services', headers: bearer(token) })
    expect(byToken.statusCode).toBe(401)
    const relogin = await blackhole.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { name: 'oscar', password: 'oscar-password' } })
    expect(relogin.statusCode).toBe(401)
  })

  it('applies a role change to a live session', async () => {
    const session = await login({ name: 'vera', password: 'vera-password' })
    await blackhole.app.inject({ method: 'PATCH', url: '/api/v1/users/vera', headers: bearer(), payload: { role: 'admin' } })
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/users', headers: { cookie: session.cookie } })
    expect(response.statusCode).toBe(200)
    await blackhole.app.inject({ method: 'PATCH', url: '/api/v1/users/vera', headers: bearer(), payload: { role: 'viewer' } })
  })

  it('signs in with a token and signs out', async () => {
    const session = await login({ token: ADMIN_TOKEN })
    expect(session.body.subject).toBe('token:admin')
    const logout = await blackhole.app.inject({
      method: 'POST',
      url: '/api/v1/auth/logout',
      headers: { cookie: session.cookie, 'x-csrf-token': session.csrfToken },
    })
    expect(logout.statusCode).toBe(200)
    expect(logout.json().signedOut).toBe(true)
    expect(String(logout.headers['set-cookie'])).toContain('Max-Age=0')
    const after = await blackhole.app.inject({ method: 'GET', url: '/api/v1/auth/session', headers: { cookie: session.cookie } })
    expect(after.statusCode).toBe(401)
  })

  it('rejects a login body with both forms', async () => {
    const response = await blackhole.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { name: 'alice', password: 'alice-password', token: ADMIN_TOKEN },
    })
    expect(response.statusCode).toBe(400)
    expect(response.json().error).toBe('INVALID_REQUEST')
  })

  it('accepts the session cookie on the WebSocket', async () => {
    const session = await login({ name: 'alice', password: 'alice-password' })
    await blackhole.app.listen({ host: '127.0.0.1', port: 0 })
    const address = blackhole.app.server.address()
    if (typeof address !== 'object' || address === null) throw new Error('server has no TCP address')
    const url = `ws://127.0.0.1:${address.port}/api/v1/stream`
    const open = (headers: Record<string, string>) =>
      new Promise<{ first: Record<string, unknown> | null; code: number | null }>((resolve, reject) => {
        const socket = new WebSocket(url, { headers })
        const timer = setTimeout(() => {
          socket.close()
          resolve({ first: null, code: null })
        }, 1000)
        socket.once('message', (data) => {
          clearTimeout(timer)
          socket.close()
          resolve({ first: JSON.parse(String(data)), code: null })
        })
        socket.once('close', (code) => {
          clearTimeout(timer)
          resolve({ first: null, code })
        })
        socket.once('error', reject)
      })
    const sameSite = await open({ cookie: session.cookie })
    expect(sameSite.first?.type).toBe('hello')
    // From another origin the cookie is ignored, so no hello arrives before the auth timeout.
    const crossSite = await open({ cookie: session.cookie, origin: 'http://evil.example' })
    expect(crossSite.first).toBeNull()
  })
})
