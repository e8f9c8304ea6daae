// The identity profile from examples/blackhole.yaml, compiled by the policy
// package and launched for real: each check runs inside the sandbox.

import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { capabilityName, compileLaunch, loadConfigFile, resolveIdentity } from '@blackhole/policy'
import type { Config, Profile } from '@blackhole/policy'
import { hostFacts } from '@blackhole/native'
import { capMask, runSandbox, CAP_NET_BIND_SERVICE } from './helpers.js'

const CONFIG = fileURLToPath(new URL('../../../examples/blackhole.yaml', import.meta.url))
const LOG_DIR = '/var/log/blackhole/identity'
const PYTHON = '/usr/bin/python3'

// Prints one JSON object with the values checked inside the sandbox.
const PROBE = `
import errno, json, os, socket
result = {}
try:
    open('/etc/passwd', 'a')
    result['passwd'] = 'opened'
except OSError as error:
    result['passwd'] = errno.errorcode[error.errno]
def listen(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(('127.0.0.1', port))
        sock.listen(1)
        return 'ok'
    except OSError as error:
        return errno.errorcode[error.errno]
    finally:
        sock.close()
result['listen50001'] = listen(50001)
result['bind80'] = listen(80)
result['uid'] = os.getuid()
result['gid'] = os.getgid()
result['groups'] = os.getgroups()
result['pids'] = sorted(int(name) for name in os.listdir('/proc') if name.isdigit())
status = open('/proc/self/status').read().splitlines()
result['capEff'] = [line.split()[1] for line in status if line.startswith('CapEff:')][0]
with open('${LOG_DIR}/probe.log', 'w') as log:
    log.write('written')
result['logContent'] = open('${LOG_DIR}/probe.log').read()
result['logFs'] = [line.split(' - ')[1].split()[0] for line in open('/proc/self/mountinfo') if line.split()[4] == '${LOG_DIR}']
print(json.dumps(result))
`

interface Probe {
  passwd: string
  listen50001: string
  bind80: string
  uid: number
  gid: number
  groups: number[]
  pids: number[]
  capEff: string
  logContent: string
  logFs: string[]
}

let config: Config
const createdDirs: string[] = []

beforeAll(async () => {
  const parsed = await loadConfigFile(CONFIG)
  if (!parsed.ok) throw new Error(`cannot parse ${CONFIG}: ${JSON.stringify(parsed.errors)}`)
  config = parsed.config
  // The launcher mounts the tmpfs on the read-only root, where it cannot
  // create the mount point; the supervisor makes it on the host beforehand.
  for (const dir of ['/var/log/blackhole', LOG_DIR]) {
    if (existsSync(dir)) continue
    mkdirSync(dir)
    createdDirs.unshift(dir)
  }
})

afterAll(() => {
  for (const dir of createdDirs) {
    try {
      rmdirSync(dir)
    } catch (error) {
      // Another test may have put its own directory under /var/log/blackhole meanwhile.
      if ((error as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw error
    }
  }
})

function boundingCapNames(): string[] {
  const mask = BigInt(`0x${hostFacts().boundingSet}`)
  const names: string[] = []
  for (let cap = 0; cap < 64; cap++) {
    const name = capabilityName(cap)
    if ((mask >> BigInt(cap)) & 1n && name !== null) names.push(name)
  }
  return names
}

async function probe(profile: Profile): Promise<Probe> {
  const identity = resolveIdentity(profile, 'identity', readFileSync('/etc/passwd', 'utf8'), readFileSync('/etc/group', 'utf8'))
  const service = config.services.identity
  if (service === undefined) throw new Error(`${CONFIG} has no identity service`)
  const { spec, notifyActions } = compileLaunch({
    profile,
    service,
    name: 'identity',
    argv: [PYTHON, '-c', PROBE],
    identity,
    host: { arch: 'x86_64', landlockAbi: hostFacts().landlockAbi, boundingCaps: boundingCapNames(), cgroupProcs: [] },
    stdio: [-1, -1, -1],
    listenFds: [],
    persistentSources: {},
    // The supervisor binds the service's folder at /run/blackhole-app, so
    // the test works when the repository lives under a masked tree like /tmp.
    appDir: service.workingDirectory,
    env: {},
  })
  const run = await runSandbox(spec, { notifyActions })
  expect(run.stderr).toBe('')
  expect(run.exit.code).toBe(0)
  return JSON.parse(run.stdout) as Probe
}

function identityProfile(): Profile {
  const profile = config.profiles.identity
  if (profile === undefined) throw new Error(`${CONFIG} has no identity profile`)
  return profile
}

/** Returns the profile with port 80 allowed by Landlock, so only capabilities decide the bind. */
function withPort80(profile: Profile, capabilities: string[]): Profile {
  return {
    ...profile,
    capabilities,
    network: { ...profile.network, allowedPorts: [...profile.network.allowedPorts, 80] },
  }
}

describe('identity profile sandbox', () => {
  let inside: Probe
  let expectedUid = 0

  beforeAll(async () => {
    const profile = identityProfile()
    expectedUid = resolveIdentity(profile, 'identity', readFileSync('/etc/passwd', 'utf8'), readFileSync('/etc/group', 'utf8')).uid
    inside = await probe(profile)
  })

  it('cannot open /etc/passwd for writing', () => {
    expect(['EACCES', 'EROFS']).toContain(inside.passwd)
  })

  it('can listen on port 50001', () => {
    expect(inside.listen50001).toBe('ok')
  })

  it('runs as the service uid without supplementary groups', () => {
    expect(inside.uid).toBe(expectedUid)
    expect(inside.uid).not.toBe(0)
    expect(inside.groups).toEqual([])
  })

  it('sees only its own processes in /proc', () => {
    expect(inside.pids).toEqual([1])
  })

  it('has exactly CAP_NET_BIND_SERVICE effective', () => {
    expect(inside.capEff).toBe(capMask([CAP_NET_BIND_SERVICE]))
  })

  it('writes its log to a tmpfs', () => {
    expect(inside.logContent).toBe('written')
    expect(inside.logFs).toEqual(['tmpfs'])
  })
})

describe('binding a port below 1024', () => {
  it('fails with EACCES without capabilities', async () => {
    const inside = await probe(withPort80(identityProfile(), []))
    expect(inside.bind80).toBe('EACCES')
    expect(inside.capEff).toBe(capMask([]))
  })

  it('works with CAP_NET_BIND_SERVICE', async () => {
    const inside = await probe(withPort80(identityProfile(), ['CAP_NET_BIND_SERVICE']))
    expect(inside.bind80).toBe('ok')
  })
})
