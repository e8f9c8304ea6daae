import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openBlackhole, type Blackhole } from '../../src/server/app.js'
import type { OpenApiDocument } from '../../src/server/openapi.js'
import { tempFolder, type TempFolder } from './server-fixture.js'

describe('API docs', () => {
  let folder: TempFolder
  let blackhole: Blackhole
  let document: OpenApiDocument

  beforeAll(async () => {
    folder = tempFolder()
    blackhole = await openBlackhole({ configPath: folder.configPath, dataDir: folder.dataDir, logger: false, webRoot: null, cgroupRoot: `blackhole-unit-${process.pid}`, print: () => {} })
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/docs/openapi.json' })
    expect(response.statusCode).toBe(200)
    document = response.json()
  })

  afterAll(async () => {
    await blackhole?.close()
    folder?.remove()
  })

  it('documents request bodies from the route schemas', () => {
    const operation = document.paths['/api/v1/users']!.post!
    const schema = operation.requestBody!.content['application/json'].schema
    expect(operation.requestBody!.required).toBe(true)
    expect(Object.keys(schema.properties!)).toEqual(['name', 'role', 'password'])
    expect(schema.additionalProperties).toBe(false)
  })

  it('marks the minimum role and public routes', () => {
    expect(document.paths['/api/v1/tokens/{id}']!.delete!['x-required-role']).toBe('admin')
    expect(document.paths['/api/v1/services/{name}/stop']!.post!['x-required-role']).toBe('operator')
    expect(document.paths['/api/v1/health']!.get!.security).toBeUndefined()
    expect(document.paths['/api/v1/services']!.get!.security).toEqual([{ bearerAuth: [] }, { sessionCookie: [] }])
    expect(document.paths['/metrics']!.get).toBeDefined()
  })

  it('documents the error body', () => {
    const errorSchema = (document.paths['/api/v1/users']!.get!.responses.default!.content as Record<string, { schema: { required: string[] } }>)[
      'application/json'
    ]!.schema
    expect(errorSchema.required).toEqual(['error', 'message'])
  })

  it('renders the paths list without scripts', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/docs' })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(response.headers['content-security-policy']).toContain("default-src 'none'")
    expect(response.body).not.toMatch(/<script/i)
    expect(response.body).toContain('<code>/api/v1/users</code>')
    expect(response.body).toContain('<td>admin</td>')
  })
})
