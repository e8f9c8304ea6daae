import { readFileSync } from 'node:fs'
import { describe, expect, test } from 'vitest'
import {
  AUDIT_ARCH,
  compileLaunch,
  parseConfig,
  resolveIdentity,
  runFilter,
  SECCOMP_RET,
  SYSCALLS_X86_64,
  type CompileInput,
  type FilesystemView,
  type Profile,
  type ServiceDefinition,
} from '@blackhole/policy'

const text = readFileSync(new URL('./fixtures/example-profiles.yaml', import.meta.url), 'utf8')
const parsed = parseConfig(`${text}services:\n  identity:\n    profile: identity\n    command: node\n    args: [server.js]\n    environment: {PORT: 50001}\n`, '/srv/app/blackhole.yaml')
if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors))
const identityProfile = parsed.config.profiles['identity'] as Profile
const identityService = parsed.config.services['identity'] as ServiceDefinition

const passwd = 'root:x:0:0:root:/root:/bin/bash\nblackhole_identity:x:991:991::/nonexistent:/usr/sbin/nologin\n'
const group = 'root:x:0:\nblackhole_services:x:990:\n'

/** A host filesystem with nothing in it, so Landlock rules depend only on the profile. */
const emptyFs: FilesystemView = { kind: () => 'missing', list: () => [], realpath: (p) => p }

function input(overrides: Partial<CompileInput> = {}): CompileInput {
  return {
    profile: identityProfile,
    service: identityService,
    name: 'identity',
    argv: ['/usr/bin/node', 'server.js'],
    identity: resolveIdentity(identityProfile, 'identity', passwd, group),
    host: { arch: 'x86_64', landlockAbi: 7, boundingCaps: ['CAP_NET_BIND_SERVICE', 'CAP_KILL'], cgroupProcs: ['/sys/fs/cgroup/pids/blackhole/identity/cgroup.procs'] },
    stdio: [-1, 5, 6],
    listenFds: [{ fd: 9, name: 'tcp-50001' }],
    persistentSources: {},
    appDir: '/srv/app',
    env: { PATH: '/host/bin', LANG: 'C.UTF-8', SECRET: 'x' },
    filesystem: emptyFs,
    ...overrides,
  }
}

describe('identity profile launch spec', () => {
  const { spec, warnings, notifyActions } = compileLaunch(input())

  test('process fields', () => {
    expect(spec.specVersion).toBe(1)
    expect(spec.name).toBe('identity')
    expect(spec.hostname).toBe('identity')
    expect(spec.file).toBe('/usr/bin/node')
    expect(spec.argv).toEqual(['/usr/bin/node', 'server.js'])
    expect(spec.cwd).toBe('/run/blackhole-app')
    expect(spec.uid).toBe(991)
    expect(spec.gid).toBe(990)
    expect(spec.groups).toEqual([])
    expect(spec.noNewPrivs).toBe(true)
    expect(spec.stdio).toEqual([-1, 5, 6])
    expect(spec.listenFds).toEqual([{ fd: 9, name: 'tcp-50001' }])
    expect(spec.cgroupProcs).toEqual(['/sys/fs/cgroup/pids/blackhole/identity/cgroup.procs'])
  })

  test('namespaces and network', () => {
    expect(spec.namespaces).toEqual({ pid: true, mount: true, net: true, ipc: true, uts: true, cgroup: true })
    expect(spec.network).toEqual({ mode: 'none', loopbackUp: true })
  })

  test('capabilities as numbers', () => {
    expect(spec.capabilities).toEqual([10])
    expect(warnings).toEqual([])
  })

  test('environment is allow-list only', () => {
    expect(spec.env).toEqual(['PATH=/usr/local/bin:/usr/bin:/bin', 'HOME=/run/blackhole/identity', 'PORT=50001'])
  })

  test('rlimits', () => {
    expect(spec.rlimits).toEqual([
      { resource: 'AS', soft: 1_000_000_000, hard: 1_000_000_000 },
      { resource: 'DATA', soft: 1_000_000_000, hard: 1_000_000_000 },
      { resource: 'STACK', soft: 8 * 1024 ** 2, hard: 8 * 1024 ** 2 },
      { resource: 'CORE', soft: 0, hard: 0 },
      { resource: 'NOFILE', soft: 4096, hard: 4096 },
      { resource: 'NPROC', soft: 100, hard: 100 },
    ])
  })

  test('mounts in order', () => {
    const tmpfs = 64 * 1024 ** 2
    expect(spec.mounts).toEqual([
      { type: 'bind', source: '/', target: '/', readOnly: true, recursive: true },
      { type: 'proc', target: '/proc' },
      { type: 'readonly', target: '/proc/sys' },
      { type: 'mask', target: '/proc/sysrq-trigger' },
      { type: 'mask', target: '/proc/kcore' },
      { type: 'mask', target: '/proc/keys' },
      { type: 'mask', target: '/proc/timer_list' },
      { type: 'mask', target: '/proc/sched_debug' },
      { type: 'mask', target: '/proc/acpi' },
      { type: 'mask', target: '/proc/scsi' },
      { type: 'dev', target: '/dev' },
      { type: 'mask', target: '/sys/fs/cgroup' },
      { type: 'mask', target: '/sys/firmware' },
      { type: 'mask', target: '/sys/kernel/security' },
      { type: 'mask', target: '/sys/kernel/debug' },
      { type: 'tmpfs', target: '/tmp', sizeBytes: tmpfs, mode: 0o1777, uid: 0, gid: 0, readOnly: false },
      { type: 'tmpfs', target: '/var/tmp', sizeBytes: tmpfs, mode: 0o1777, uid: 0, gid: 0, readOnly: false },
      { type: 'tmpfs', target: '/run', sizeBytes: tmpfs, mode: 0o755, uid: 0, gid: 0, readOnly: false },
      { type: 'tmpfs', target: '/run/blackhole/identity', sizeBytes: tmpfs, mode: 0o700, uid: 991, gid: 990, readOnly: false },
      { type: 'tmpfs', target: '/var/log/blackhole/identity', sizeBytes: tmpfs, mode: 0o700, uid: 991, gid: 990, readOnly: false },
      { type: 'bind', source: '/srv/app', target: '/run/blackhole-app', readOnly: true, recursive: true },
      { type: 'readonly', target: '/tmp' },
      { type: 'readonly', target: '/var/tmp' },
      { type: 'readonly', target: '/run' },
      { type: 'tmpfs', target: '/run/blackhole/identity', sizeBytes: tmpfs, mode: 0o700, uid: 991, gid: 990, readOnly: false },
    ])
  })

  test('seccomp spec and notify actions', () => {
    expect(spec.seccomp.mode).toBe('enforce')
    expect(spec.seccomp.listener).toBe(true)
    expect(spec.seccomp.flags).toBe(0)
    const filter = spec.seccomp.filter ?? ''
    const unix = runFilter(filter, { nr: SYSCALLS_X86_64['socket'] ?? -1, arch: AUDIT_ARCH.X86_64, args: [1, 1, 0] })
    expect(unix).toBe(SECCOMP_RET.ALLOW)
    expect(notifyActions[SYSCALLS_X86_64['mount'] ?? -1]).toMatchObject({ action: 'errno', errno: 1 })
  })

  test('landlock spec', () => {
    expect(spec.landlock?.minAbi).toBe(7)
    expect(spec.landlock?.handledAccessFs).toBe(0xffff)
    expect(spec.landlock?.handledAccessNet).toBe(3)
    expect(spec.landlock?.netRules).toEqual([{ port: 50001, access: 3 }])
    expect(spec.landlock?.scoped).toBe(2)
    expect(spec.landlock?.restrictFlags).toBe(2)
    expect(spec.landlock?.pathRules).toEqual([
      { path: '/', access: 0b1101 },
      { path: '/dev', access: 0xc00f },
      { path: '/dev/shm', access: 0xffff },
      { path: '/run/blackhole/identity', access: 0xffff },
      { path: '/var/log/blackhole/identity', access: 0xffff },
    ])
  })
})

describe('compile variations', () => {
  test('dropped capability warns', () => {
    const { spec, warnings } = compileLaunch(input({ host: { ...input().host, boundingCaps: ['CAP_KILL'] } }))
    expect(spec.capabilities).toEqual([])
    expect(warnings).toEqual(['capability CAP_NET_BIND_SERVICE dropped: the supervisor does not hold it in its bounding set, so the service starts without it'])
  })

  test('persistent path bound from host', () => {
    const service = { ...identityService, persistentPaths: ['/var/log/blackhole/identity'] }
    const { spec } = compileLaunch(input({ service, persistentSources: { '/var/log/blackhole/identity': '/var/lib/blackhole/identity/log' } }))
    expect(spec.mounts).toContainEqual({ type: 'bind', source: '/var/lib/blackhole/identity/log', target: '/var/log/blackhole/identity', readOnly: false, recursive: false })
    expect(spec.mounts.filter((m) => m.type === 'tmpfs' && m.target === '/var/log/blackhole/identity')).toEqual([])
  })

  test('persistent path without source fails', () => {
    const service = { ...identityService, persistentPaths: ['/var/log/blackhole/identity'] }
    expect(() => compileLaunch(input({ service }))).toThrow('persistent path /var/log/blackhole/identity of service identity has no absolute host folder in persistentSources')
  })

  test('writable /tmp keeps it writable', () => {
    const profile: Profile = { ...identityProfile, filesystem: { ...identityProfile.filesystem, writablePaths: [{ path: '/tmp', sizeBytes: 1024 ** 2 }] } }
    const { spec } = compileLaunch(input({ profile }))
    const tmpMounts = spec.mounts.filter((m) => 'target' in m && m.target === '/tmp')
    expect(tmpMounts).toEqual([{ type: 'tmpfs', target: '/tmp', sizeBytes: 1024 ** 2, mode: 0o700, uid: 991, gid: 990, readOnly: false }])
  })

  test('nested writable paths mount parent first', () => {
    const profile: Profile = {
      ...identityProfile,
      filesystem: { ...identityProfile.filesystem, writablePaths: [{ path: '/srv/a/b', sizeBytes: null }, { path: '/srv/a', sizeBytes: null }] },
    }
    const { spec } = compileLaunch(input({ profile }))
    const targets = spec.mounts.filter((m) => m.type === 'tmpfs' && m.target.startsWith('/srv')).map((m) => 'target' in m ? m.target : '')
    expect(targets).toEqual(['/srv/a', '/srv/a/b'])
  })

  test('host network keeps namespace off', () => {
    const profile: Profile = { ...identityProfile, network: { ...identityProfile.network, mode: 'host' } }
    const { spec } = compileLaunch(input({ profile }))
    expect(spec.namespaces.net).toBe(false)
    expect(spec.network).toEqual({ mode: 'host', loopbackUp: false })
  })

  test('relative argv0 rejected', () => {
    expect(() => compileLaunch(input({ argv: ['node'] }))).toThrow('argv[0] must be the absolute program path, got "node"')
  })

  test('allow-list passes named variables', () => {
    const profile: Profile = { ...identityProfile, environment: { allow: ['LANG', 'MISSING'], set: { MODE: 'prod' } } }
    const { spec } = compileLaunch(input({ profile }))
    expect(spec.env).toEqual(['PATH=/usr/local/bin:/usr/bin:/bin', 'HOME=/run/blackhole/identity', 'LANG=C.UTF-8', 'MODE=prod', 'PORT=50001'])
  })
})

describe('resolveIdentity', () => {
  test('named accounts from passwd and group', () => {
    expect(resolveIdentity(identityProfile, 'identity', passwd, group)).toEqual({ uid: 991, gid: 990, user: 'blackhole_identity', group: 'blackhole_services', dynamic: false })
  })

  test('missing user gets stable dynamic id', () => {
    const profile: Profile = { ...identityProfile, user: null, group: null }
    const first = resolveIdentity(profile, 'web', passwd, group)
    const second = resolveIdentity(profile, 'web', passwd, group)
    expect(first).toEqual(second)
    expect(first.uid).toBe(first.gid)
    expect(first.uid).toBeGreaterThanOrEqual(0x7a000000)
    expect(first.uid).toBeLessThanOrEqual(0x7a00ffff)
    expect(first.user).toBe('blackhole-web')
    expect(first.dynamic).toBe(true)
  })

  test('dynamic id probes past used ids', () => {
    const profile: Profile = { ...identityProfile, user: null, group: null }
    const { uid } = resolveIdentity(profile, 'web', passwd, group)
    const taken = `${passwd}squatter:x:${uid}:0::/:/bin/false\n`
    const next = resolveIdentity(profile, 'web', taken, group)
    expect(next.uid).not.toBe(uid)
    expect(next.uid).toBeGreaterThanOrEqual(0x7a000000)
  })

  test('account with uid 0 is rejected', () => {
    const profile: Profile = { ...identityProfile, user: 'toor', group: null }
    const withAlias = `${passwd}toor:x:0:0::/root:/bin/sh\n`
    expect(() => resolveIdentity(profile, 'identity', withAlias, group)).toThrow(
      'profile identity resolves to user toor (uid 0); a sandboxed service never runs with id 0: name an unprivileged account',
    )
  })

  test('group with gid 0 is rejected', () => {
    const profile: Profile = { ...identityProfile, group: 'wheel0' }
    expect(() => resolveIdentity(profile, 'identity', passwd, `${group}wheel0:x:0:\n`)).toThrow(/group wheel0 \(gid 0\)/)
  })

  test('unknown named group gets dynamic gid', () => {
    const profile: Profile = { ...identityProfile, group: 'nogroup_here' }
    const result = resolveIdentity(profile, 'identity', passwd, group)
    expect(result.uid).toBe(991)
    expect(result.gid).toBeGreaterThanOrEqual(0x7a000000)
    expect(result.group).toBe('nogroup_here')
  })
})
