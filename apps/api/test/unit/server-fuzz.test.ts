// Sends malformed input to every operation in the OpenAPI document with
// each role and checks that none returns a 5xx status, and that every
// error body has `error` and `message`. Services in the fixture never start
// on their own and the malformed requests are rejected before any action
// runs, so no test needs root.

import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createToken } from '../../src/db/tokens.js'
import { openBlackhole } from '../../src/server/app.js'
import { FailureLimiter } from '../../src/server/auth.js'
import { BODY_LIMIT } from '../../src/server/build.js'
import type { OpenApiDocument } from '../../src/server/openapi.js'
import { EXAMPLE_RULES, tempFolder } from './server-fixture.js'

const ADMIN_TOKEN = 'bh_test-admin-token-for-the-fuzz-tests'

const folder = tempFolder()
copyFileSync(EXAMPLE_RULES, join(folder.dir, 'rules.yaml'))
const blackhole = await openBlackhole({
  configPath: folder.configPath,
  dataDir: folder.dataDir,
  adminToken: ADMIN_TOKEN,
  logger: false,
  webRoot: null,
  cgroupRoot: `blackhole-unit-${process.pid}`,
  // Anonymous cases fail authentication on purpose; a lockout would hide the routes behind 429.
  limiter: new FailureLimiter(1_000_000),
})
const tokens: Record<string, string | null> = {
  anonymous: null,
  viewer: (await createToken(blackhole.database.prisma, 'fuzz-viewer', 'viewer')).token,
  operator: (await createToken(blackhole.database.prisma, 'fuzz-operator', 'operator')).token,
  admin: ADMIN_TOKEN,
}
const document = (await blackhole.app.inject({ method: 'GET', url: '/api/docs/openapi.json' })).json() as OpenApiDocument

afterAll(async () => {
  await blackhole.close()
  folder.remove()
})

interface Case {
  name: string
  /** Replaces each path parameter. */
  param: (name: string) => string
  query?: string
  contentType?: string
  body?: string
}

const HUGE = '9'.repeat(400)

const CASES: Case[] = [
  { name: 'bad JSON', param: () => 'identity', contentType: 'application/json', body: '{"name": "x",' },
  { name: 'wrong types', param: () => 'identity', contentType: 'application/json', body: JSON.stringify({ name: 7, role: [], password: {}, yaml: 1, token: false, disabled: 'yes', durationSeconds: 'soon' }) },
  { name: 'JSON array body', param: () => 'identity', contentType: 'application/json', body: '[1,2,3]' },
  { name: 'JSON scalar body', param: () => 'identity', contentType: 'application/json', body: '42' },
  { name: 'unknown body field', param: () => 'identity', contentType: 'application/json', body: '{"zzz_unknown": 1}' },
  { name: 'unknown query field', param: () => 'identity', query: 'zzz_unknown=1' },
  { name: 'huge numbers', param: () => HUGE, query: `limit=${HUGE}&before=${HUGE}&graceMs=${HUGE}&from=${HUGE}&to=-${HUGE}` },
  { name: 'odd path parameter', param: () => encodeURIComponent('../\u0000%zz'), query: 'limit=abc' },
  { name: 'long path parameter', param: () => 'x'.repeat(5000) },
  { name: 'wrong content type', param: () => 'identity', contentType: 'text/plain', body: 'hello' },
  { name: 'form content type', param: () => 'identity', contentType: 'application/x-www-form-urlencoded', body: 'a=1' },
  { name: 'body over the limit', param: () => 'identity', contentType: 'application/json', body: JSON.stringify({ pad: 'x'.repeat(BODY_LIMIT * 40) }) },
]

const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
  Object.keys(methods).map((method) => ({ method: method.toUpperCase(), path })),
)

describe('malformed input', () => {
  it('covers the documented routes', () => {
    expect(operations.length).toBeGreaterThan(20)
    const paths = operations.map((operation) => `${operation.method} ${operation.path}`)
    expect(paths).toContain('POST /api/v1/users')
    expect(paths).toContain('GET /metrics')
  })

  it.each(operations)('$method $path answers no 5xx', async ({ method, path }) => {
    for (const testCase of CASES) {
      const url = path.replace(/\{([A-Za-z]+)\}/g, (_match, name: string) => testCase.param(name)) + (testCase.query === undefined ? '' : `?${testCase.query}`)
      const sendsBody = method !== 'GET' && method !== 'DELETE' && testCase.body !== undefined
      for (const [role, token] of Object.entries(tokens)) {
        const headers: Record<string, string> = {}
        if (token !== null) headers.authorization = `Bearer ${token}`
        if (sendsBody && testCase.contentType !== undefined) headers['content-type'] = testCase.contentType
        const response = await blackhole.app.inject({ method: method as 'GET', url, headers, payload: sendsBody ? testCase.body : undefined })
        const label = `${method} ${url.slice(0, 120)} (${testCase.name}, ${role}) -> ${response.statusCode} ${response.body.slice(0, 200)}`
        expect(response.statusCode, label).toBeLessThan(500)
        if (response.statusCode >= 400) {
          const body = response.json() as Record<string, unknown>
          expect(typeof body.error, label).toBe('string')
          expect(typeof body.message, label).toBe('string')
        }
        if (testCase.name === 'body over the limit' && sendsBody && role === 'admin') {
          expect(response.statusCode, label).toBe(413)
        }
      }
    }
  })
})
