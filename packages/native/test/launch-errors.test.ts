import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { LaunchError, spawnSandbox } from '@blackhole/native'
import type { LaunchSpec } from '@blackhole/policy'
import { CAP_NET_BIND_SERVICE, CAP_SYS_RESOURCE, NR_SENDMSG, baseSpec, notifyFilter } from './helpers.js'

function hasCap(cap: number): boolean {
  const hex = /^CapBnd:\s*(\w+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0'
  return ((BigInt(`0x${hex}`) >> BigInt(cap)) & 1n) === 1n
}

function launchError(spec: LaunchSpec): LaunchError {
  try {
    const child = spawnSandbox(spec)
    throw new Error(`expected a LaunchError, but pid ${child.pid} started`)
  } catch (error) {
    if (!(error instanceof LaunchError)) throw error
    return error
  }
}

describe('LaunchError', () => {
  it('names execve and ENOENT for a missing file', () => {
    const error = launchError(baseSpec({ file: '/usr/bin/does-not-exist' }))
    expect(error.step).toBe('execve')
    expect(error.code).toBe('ENOENT')
    expect(error.errno).toBe(2)
    expect(error.detail).toBe('/usr/bin/does-not-exist')
    expect(error.message).toBe('execve /usr/bin/does-not-exist: No such file or directory (ENOENT)')
  })

  it('names the tmpfs target under a read-only root', () => {
    const spec = baseSpec({
      mounts: [
        ...baseSpec().mounts,
        { type: 'tmpfs', target: '/var/lib/blackhole-native-missing/state', sizeBytes: 1 << 20, mode: 0o700, uid: 0, gid: 0, readOnly: false },
      ],
    })
    const error = launchError(spec)
    expect(error.step).toBe('mount tmpfs')
    expect(error.code).toBe('EROFS')
    expect(error.detail).toBe('/var/lib/blackhole-native-missing/state')
    expect(error.message).toBe('mount tmpfs /var/lib/blackhole-native-missing/state: Read-only file system (EROFS)')
  })

  // Only a host whose bounding set lacks CAP_SYS_RESOURCE can show this.
  it.skipIf(hasCap(CAP_SYS_RESOURCE))('names a capability the supervisor lacks', () => {
    const error = launchError(baseSpec({ capabilities: [CAP_NET_BIND_SERVICE, CAP_SYS_RESOURCE] }))
    expect(error.step).toBe('capabilities')
    expect(error.code).toBe('EPERM')
    expect(error.detail).toContain(`cap ${CAP_SYS_RESOURCE}`)
  })

  it('names the chdir target', () => {
    const error = launchError(baseSpec({ cwd: '/no/such/dir' }))
    expect(error.step).toBe('chdir')
    expect(error.code).toBe('ENOENT')
    expect(error.detail).toBe('/no/such/dir')
  })

  it('names the Landlock ABI it needs', () => {
    const spec = baseSpec({
      landlock: {
        minAbi: 99,
        handledAccessFs: 1,
        handledAccessNet: 0,
        scoped: 0,
        pathRules: [],
        netRules: [],
        restrictFlags: 0,
      },
    })
    const error = launchError(spec)
    expect(error.step).toBe('landlock')
    expect(error.detail).toMatch(/^needs ABI 99, kernel has \d+$/)
  })

  it('names an unwritable cgroup file', () => {
    const error = launchError(baseSpec({ cgroupProcs: ['/sys/fs/cgroup/pids/no-such-group/cgroup.procs'] }))
    expect(error.step).toBe('cgroup')
    expect(error.code).toBe('ENOENT')
    expect(error.detail).toBe('/sys/fs/cgroup/pids/no-such-group/cgroup.procs')
  })

  it('kills the child and rethrows when beforeRelease throws', () => {
    let seen = 0
    expect(() =>
      spawnSandbox(baseSpec(), {
        beforeRelease: (pid) => {
          seen = pid
          throw new Error('veth setup failed')
        },
      }),
    ).toThrow('veth setup failed')
    expect(seen).toBeGreaterThan(0)
    expect(() => process.kill(seen, 0)).toThrow()
  })
})

describe('validateLaunchSpec at spawn', () => {
  const cases: [string, Partial<LaunchSpec> | Record<string, unknown>, string][] = [
    ['specVersion', { specVersion: 2 }, 'LaunchSpec.specVersion must be 1'],
    ['file', { file: 'bin/sh' }, 'LaunchSpec.file must be an absolute path, got "bin/sh"'],
    ['uid', { uid: -1 }, 'LaunchSpec.uid must be an integer from 0 to 4294967294, got -1'],
    ['capabilities', { capabilities: [10, 10] }, 'LaunchSpec.capabilities[1] must be listed once, got 10'],
    ['env', { env: ['NOEQUALS'] }, 'LaunchSpec.env[0] must be NAME=value, got "NOEQUALS"'],
    ['stdio', { stdio: [0, 1] }, 'LaunchSpec.stdio must be three descriptors'],
    ['mounts', { mounts: [{ type: 'overlay', target: '/' }] }, 'LaunchSpec.mounts[0].type must be one of bind'],
    ['seccomp.filter', { seccomp: { mode: 'enforce', filter: 'AAAA', listener: false, flags: 0 } }, 'LaunchSpec.seccomp.filter must be base64 of 1 to 4096'],
  ]
  for (const [field, override, message] of cases) {
    it(`rejects an invalid ${field}`, () => {
      const spec = { ...baseSpec(), ...override } as LaunchSpec
      expect(() => spawnSandbox(spec)).toThrow(TypeError)
      expect(() => spawnSandbox(spec)).toThrow(message)
    })
  }
})

describe('launch timeout', () => {
  it('kills a child stuck before execve', () => {
    // A notified sendmsg blocks the launcher while it hands over the
    // listener, so the parent never gets a descriptor to respond with.
    const spec = baseSpec({
      seccomp: { mode: 'enforce', filter: notifyFilter([NR_SENDMSG]), listener: true, flags: 0 },
    })
    const started = Date.now()
    let error: unknown
    try {
      spawnSandbox(spec, { launchTimeoutMs: 300 })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(LaunchError)
    expect((error as LaunchError).step).toBe('wait for execve')
    expect((error as LaunchError).code).toBe('ETIMEDOUT')
    expect((error as LaunchError).message).toContain('notifies write, sendmsg or close')
    expect(Date.now() - started).toBeLessThan(5_000)
  })
})
