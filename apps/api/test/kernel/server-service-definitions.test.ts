// Changes a running service's definition over the API, as root: the
// running process keeps its command, and the next start uses the new one.
// A service added over the API starts like a config file service.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openBlackhole, type Blackhole } from '../../src/server/app.js'

const ADMIN_TOKEN = 'bh_kernel-test-token-for-service-definitions'

const CONFIG = `security_profiles:
  sleeper:
    resource_limits:
      max_memory: 32MB
      max_processes: 4
services:
  napper:
    profile: sleeper
    command: /bin/sleep
    args: ["3600"]
    autostart: false
`

function commandLine(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((part) => part !== '')
}

describe('service definitions with running services', () => {
  let dir: string
  let blackhole: Blackhole

  const request = (method: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, payload?: object) =>
    blackhole.app.inject({ method, url, headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload })

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'blackhole-definitions-'))
    writeFileSync(join(dir, 'blackhole.yaml'), CONFIG)
    blackhole = await openBlackhole({
      configPath: join(dir, 'blackhole.yaml'),
      dataDir: join(dir, 'data'),
      adminToken: ADMIN_TOKEN,
      logger: false,
      webRoot: null,
      autostart: false,
      cgroupRoot: `blackhole-definitions-test-${process.pid}`,
      graceMs: 1000,
    })
  })

  afterAll(async () => {
    await blackhole?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('applies a change at the next start', async () => {
    const started = await request('POST', '/api/v1/services/napper/start')
    expect(started.statusCode).toBe(200)
    const firstPid = blackhole.supervisor.get('napper').pid!
    expect(commandLine(firstPid)).toEqual(['/bin/sleep', '3600'])

    const changed = await request('PUT', '/api/v1/service-definitions/napper', { profile: 'sleeper', command: '/bin/sleep', args: ['1800'], autostart: false })
    expect(changed.statusCode).toBe(200)
    expect(changed.json().appliesAt).toBe('next start')
    expect(blackhole.supervisor.get('napper').pid).toBe(firstPid)
    expect(commandLine(firstPid)).toEqual(['/bin/sleep', '3600'])

    expect((await request('POST', '/api/v1/services/napper/stop')).statusCode).toBe(200)
    expect((await request('POST', '/api/v1/services/napper/start')).statusCode).toBe(200)
    const secondPid = blackhole.supervisor.get('napper').pid!
    expect(secondPid).not.toBe(firstPid)
    expect(commandLine(secondPid)).toEqual(['/bin/sleep', '1800'])
  }, 30_000)

  it('starts a service added over the API', async () => {
    const added = await request('PUT', '/api/v1/service-definitions/extra', { profile: 'sleeper', command: '/bin/sleep', args: ['900'], autostart: false })
    expect(added.statusCode).toBe(200)
    expect(added.json().created).toBe(true)
    const started = await request('POST', '/api/v1/services/extra/start')
    expect(started.statusCode).toBe(200)
    const pid = blackhole.supervisor.get('extra').pid!
    expect(commandLine(pid)).toEqual(['/bin/sleep', '900'])
  }, 30_000)

  it('rejects deleting a running API service', async () => {
    const rejected = await request('DELETE', '/api/v1/service-definitions/extra')
    expect(rejected.statusCode).toBe(409)
    expect(rejected.json().error).toBe('INVALID_STATE')
    expect(blackhole.supervisor.get('extra').state).toBe('running')
    const history = (await request('GET', '/api/v1/service-definitions/extra')).json()
    expect(history.source).toBe('api')
    expect(history.versions.length).toBe(1)
  })
})
