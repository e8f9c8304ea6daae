import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createToken } from '../../src/db/tokens.js'
import { openBlackhole, type Blackhole } from '../../src/server/app.js'
import { FailureLimiter } from '../../src/server/auth.js'
import { lineDiff } from '../../src/server/routes/line-diff.js'
import { tempFolder, type TempFolder } from './server-fixture.js'

const ADMIN_TOKEN = 'bh_test-admin-token-for-the-console-profile-tests'

describe('console profile routes', () => {
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
  })

  afterAll(async () => {
    await blackhole?.close()
    folder?.remove()
  })

  const currentYaml = async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/profiles/identity', headers: auth(viewer) })
    return response.json().yaml as string
  }

  it('lists versions for every role', async () => {
    for (const token of [viewer, operator, ADMIN_TOKEN]) {
      const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/profiles/identity/versions', headers: auth(token) })
      expect(response.statusCode).toBe(200)
      const body = response.json()
      expect(body.currentVersion).toBe(1)
      expect(body.versions).toHaveLength(1)
      expect(body.versions[0].version).toBe(1)
      expect(body.versions[0].author).toMatch(/^config:/)
    }
  })

  it('rejects an unknown profile', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/profiles/nope/versions', headers: auth(viewer) })
    expect(response.statusCode).toBe(404)
    expect(response.json().error).toBe('PROFILE_NOT_FOUND')
  })

  it('returns one version with its yaml', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/profiles/identity/versions/1', headers: auth(viewer) })
    expect(response.statusCode).toBe(200)
    expect(response.json().yaml).toMatch(/^identity:\n/)
    const missing = await blackhole.app.inject({ method: 'GET', url: '/api/v1/profiles/identity/versions/99', headers: auth(viewer) })
    expect(missing.statusCode).toBe(404)
    expect(missing.json().error).toBe('VERSION_NOT_FOUND')
    const bad = await blackhole.app.inject({ method: 'GET', url: '/api/v1/profiles/identity/versions/x', headers: auth(viewer) })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().message).toMatch(/^params\.version/)
  })

  it('validates with errors at their line', async () => {
    const yaml = 'identity:\n  user: nobody\n  capabilities:\n    - CAP_BOGUS\n'
    const response = await blackhole.app.inject({ method: 'POST', url: '/api/v1/profiles/validate', headers: auth(operator), payload: { yaml } })
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(body.ok).toBe(false)
    expect(body.errors).toHaveLength(1)
    expect(body.errors[0].line).toBe(4)
    expect(body.errors[0].col).toBe(7)
    expect(body.errors[0].path).toBe('identity.capabilities[0]')
    expect(body.errors[0].text).toMatch(/^profile\.yaml:4:7: identity\.capabilities\[0\]: unknown capability/)
  })

  it('rejects validate from a viewer', async () => {
    const response = await blackhole.app.inject({ method: 'POST', url: '/api/v1/profiles/validate', headers: auth(viewer), payload: { yaml: 'x' } })
    expect(response.statusCode).toBe(403)
    expect(response.json().error).toBe('FORBIDDEN')
  })

  it('validates a good profile with its score', async () => {
    const response = await blackhole.app.inject({ method: 'POST', url: '/api/v1/profiles/validate', headers: auth(operator), payload: { yaml: await currentYaml() } })
    const body = response.json()
    expect(body.ok).toBe(true)
    expect(body.errors).toEqual([])
    expect(typeof body.score).toBe('number')
  })

  it('rejects validate without yaml', async () => {
    const response = await blackhole.app.inject({ method: 'POST', url: '/api/v1/profiles/validate', headers: auth(operator), payload: { text: 'x' } })
    expect(response.statusCode).toBe(400)
    expect(response.json().message).toBe('body.yaml: missing required field')
  })

  it('lets only admins save a profile', async () => {
    const yaml = await currentYaml()
    for (const [token, status] of [[viewer, 403], [operator, 403]] as const) {
      const response = await blackhole.app.inject({ method: 'PUT', url: '/api/v1/profiles/identity', headers: auth(token), payload: { yaml } })
      expect(response.statusCode).toBe(status)
      expect(response.json().error).toBe('FORBIDDEN')
    }
  })

  it('keeps the stored version on an invalid save', async () => {
    const response = await blackhole.app.inject({
      method: 'PUT',
      url: '/api/v1/profiles/identity',
      headers: auth(),
      payload: { yaml: 'identity:\n  user: nobody\n  network:\n    allowed_ports: [99999]\n' },
    })
    expect(response.statusCode).toBe(400)
    const body = response.json()
    expect(body.error).toBe('INVALID_PROFILE')
    expect(body.errors[0].line).toBe(4)
    expect(body.message).toMatch(/stored version is unchanged/)
    const versions = await blackhole.app.inject({ method: 'GET', url: '/api/v1/profiles/identity/versions', headers: auth() })
    expect(versions.json().currentVersion).toBe(1)
  })

  it('rejects a profile under another name', async () => {
    const response = await blackhole.app.inject({ method: 'PUT', url: '/api/v1/profiles/identity', headers: auth(), payload: { yaml: 'other:\n  user: nobody\n' } })
    expect(response.statusCode).toBe(400)
    expect(response.json().errors[0].message).toMatch(/named "other"/)
  })

  it('saves a new version as the caller and diffs it', async () => {
    const yaml = (await currentYaml()).replace('max_processes: 100', 'max_processes: 50')
    const response = await blackhole.app.inject({ method: 'PUT', url: '/api/v1/profiles/identity', headers: auth(), payload: { yaml } })
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(body.version).toBe(2)
    expect(body.created).toBe(true)
    expect(body.author).toBe('token:admin')
    expect(body.services).toEqual(['identity'])
    expect(body.message).toMatch(/version 2/)
    expect(body.configFile).toMatch(/^unchanged; /)
    expect(blackhole.config.profiles.identity!.resourceLimits.maxProcesses).toBe(50)

    const records = blackhole.audit.query({ type: 'PROFILE_UPDATED' })
    expect(records[0]!.actor).toBe('token:admin')

    const diff = await blackhole.app.inject({ method: 'GET', url: '/api/v1/profiles/identity/diff?from=1&to=2', headers: auth(viewer) })
    expect(diff.statusCode).toBe(200)
    const lines = diff.json().lines as { op: string; text: string }[]
    expect(diff.json().added).toBe(1)
    expect(diff.json().removed).toBe(1)
    expect(lines.find((line) => line.op === 'removed')!.text).toMatch(/max_processes: 100/)
    expect(lines.find((line) => line.op === 'added')!.text).toMatch(/max_processes: 50/)
  })

  it('needs from and to for a diff', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/profiles/identity/diff?from=1', headers: auth(viewer) })
    expect(response.statusCode).toBe(400)
    expect(response.json().message).toBe('querystring.to: missing required field')
  })

  it('exports each format with warnings', async () => {
    for (const format of ['apparmor', 'seccomp', 'systemd', 'oci', 'sbpl', 'windows']) {
      const response = await blackhole.app.inject({ method: 'GET', url: `/api/v1/profiles/identity/export?format=${format}`, headers: auth(viewer) })
      expect(response.statusCode, format).toBe(200)
      const body = response.json()
      expect(body.text.length, format).toBeGreaterThan(0)
      expect(Array.isArray(body.warnings), format).toBe(true)
      expect(typeof body.fileName, format).toBe('string')
      expect(typeof body.mediaType, format).toBe('string')
    }
    const bad = await blackhole.app.inject({ method: 'GET', url: '/api/v1/profiles/identity/export?format=docker', headers: auth(viewer) })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().message).toMatch(/^querystring\.format/)
  })

  it('returns the score breakdown', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/profiles/identity/score', headers: auth(viewer) })
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(body.score).toBeGreaterThanOrEqual(0)
    expect(body.score).toBeLessThanOrEqual(10)
    expect(body.lines.length).toBeGreaterThan(3)
  })

  it('lists the new routes in openapi', async () => {
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })
    const paths = Object.keys(response.json().paths)
    for (const path of ['/api/v1/profiles/{name}/versions', '/api/v1/profiles/{name}/diff', '/api/v1/profiles/validate', '/api/v1/audit/status', '/api/v1/events/export', '/api/v1/services/{name}/logs']) {
      expect(paths, path).toContain(path)
    }
    const document = response.json()
    expect(document.paths['/api/v1/profiles/{name}'].put['x-required-role']).toBe('admin')
    expect(document.paths['/api/v1/audit/verify'].post['x-required-role']).toBe('operator')
  })
})

describe('lineDiff', () => {
  it('marks changed lines', () => {
    const lines = lineDiff('a\nb\nc\n', 'a\nx\nc\nd\n')
    expect(lines.map((line) => `${line.op[0]}${line.text}`)).toEqual(['sa', 'rb', 'ax', 'sc', 'ad'])
  })

  it('numbers both sides', () => {
    const lines = lineDiff('a\nb\n', 'b\n')
    expect(lines[0]).toEqual({ op: 'removed', text: 'a', oldLine: 1, newLine: null })
    expect(lines[1]).toEqual({ op: 'same', text: 'b', oldLine: 2, newLine: 1 })
  })

  it('handles empty texts', () => {
    expect(lineDiff('', '')).toEqual([])
    expect(lineDiff('', 'a').map((line) => line.op)).toEqual(['added'])
  })
})
