import { describe, expect, it } from 'vitest'
import { exportProfile } from '../src/export/index.js'
import type { OciConfig } from '../src/export/oci.js'
import type { Profile } from '../src/profile.js'
import { specProblems, type Json } from './fixtures/export/oci-shape.js'
import { yamlExampleProfiles, yamlFeatureProfiles } from './fixtures/export/parsed.js'
import { everyFeatureProfile, exampleProfiles, identityProfile, strictProfile, withChanges, workerProfile } from './fixtures/export/profiles.js'

function configOf(profile: Profile, options = {}): OciConfig {
  return JSON.parse(exportProfile(profile, 'oci', options).text) as OciConfig
}

const cases: [string, Profile][] = [
  ...exampleProfiles.map((profile): [string, Profile] => [profile.name, profile]),
  ...[...yamlExampleProfiles, ...yamlFeatureProfiles].map((profile): [string, Profile] => [`yaml ${profile.name}`, profile]),
  ['every-feature', everyFeatureProfile],
  ['strict', strictProfile('strict')],
  ['disabled', withChanges(strictProfile('off'), { enforceMode: 'disabled', resourceLimits: { ...strictProfile('x').resourceLimits, maxMemory: null, maxCpu: null } })],
]

describe('oci export', () => {
  for (const [label, profile] of cases) {
    it(`matches the runtime-spec shape for ${label}`, () => {
      expect(specProblems(configOf(profile, { command: ['/usr/bin/node', 'server.js'] }))).toEqual([])
    })
  }

  it('shape check catches bad fields', () => {
    // Guards the check above.
    const config = configOf(identityProfile) as unknown as Json
    const broken = structuredClone(config) as Record<string, Record<string, unknown>>
    broken.process!.cwd = 'relative'
    delete broken.root!.path
    broken.linux!.namespaces = [{ type: 'net' }]
    expect(specProblems(broken)).toEqual(['root.path and root.readonly', 'process.cwd is absolute', 'linux.namespaces[0].type'])
  })

  it('writes user, capabilities and rlimits', () => {
    const config = configOf(identityProfile, { identity: { uid: 1200, gid: 1300 }, command: ['/usr/bin/node'] })
    expect(config.ociVersion).toBe('1.1.0')
    expect(config.process.user).toEqual({ uid: 1200, gid: 1300, umask: 0o077, additionalGids: [] })
    expect(config.process.args).toEqual(['/usr/bin/node'])
    for (const set of Object.values(config.process.capabilities)) expect(set).toEqual(['CAP_NET_BIND_SERVICE'])
    expect(config.process.noNewPrivileges).toBe(true)
    expect(config.process.env).toEqual(['NODE_ENV=production'])
    expect(config.process.rlimits).toEqual([
      { type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 },
      { type: 'RLIMIT_NPROC', hard: 64, soft: 64 },
      { type: 'RLIMIT_AS', hard: 536870912, soft: 536870912 },
      { type: 'RLIMIT_CORE', hard: 0, soft: 0 },
    ])
  })

  it('falls back to nobody with a warning', () => {
    const result = exportProfile(identityProfile, 'oci')
    const config = JSON.parse(result.text) as OciConfig
    expect(config.process.user.uid).toBe(65534)
    expect(config.process.user.gid).toBe(65534)
    expect(result.warnings.some((w) => w.startsWith('user (dynamic): uid and gid are resolved at run time'))).toBe(true)
    expect(result.warnings.some((w) => w.startsWith('command: none given'))).toBe(true)
  })

  it('writes namespaces per network mode', () => {
    const types = (profile: Profile) => configOf(profile).linux.namespaces.map((ns) => ns.type)
    expect(types(identityProfile)).toEqual(['pid', 'mount', 'network', 'ipc', 'uts', 'cgroup'])
    const host = withChanges(identityProfile, { network: { ...identityProfile.network, mode: 'host' } })
    expect(types(host)).toEqual(['pid', 'mount', 'ipc', 'uts', 'cgroup'])
  })

  it('mounts tmpfs and data binds', () => {
    const config = configOf(identityProfile, { identity: { uid: 1200, gid: 1300 } })
    const log = config.mounts.find((mount) => mount.destination === '/var/log/blackhole/identity')
    expect(log?.type).toBe('tmpfs')
    // No size on the path itself, so the profile's max_tmpfs (32 MiB) applies.
    expect(log?.options).toEqual(['nosuid', 'nodev', 'mode=0700', 'uid=1200', 'gid=1300', `size=${32 * 1024 * 1024}`])
    const tmp = config.mounts.find((mount) => mount.destination === '/tmp')
    expect(tmp?.options).toContain(`size=${16 * 1024 * 1024}`)
    const data = config.mounts.find((mount) => mount.destination === '/var/lib/identity')
    expect(data?.type).toBe('bind')
    expect(data?.source).toBe('/var/lib/blackhole/data/identity/var/lib/identity')
    expect(data?.options).toContain('rbind')
    expect(config.root.readonly).toBe(true)
  })

  it('binds persistent paths from their sources', () => {
    const config = configOf(identityProfile, {
      persistentPaths: ['/var/log/blackhole/identity'],
      persistentSources: { '/var/log/blackhole/identity': '/srv/blackhole/identity/log' },
    })
    const log = config.mounts.find((mount) => mount.destination === '/var/log/blackhole/identity')
    expect(log?.type).toBe('bind')
    expect(log?.source).toBe('/srv/blackhole/identity/log')
    expect(config.mounts.filter((mount) => mount.destination === '/var/log/blackhole/identity')).toHaveLength(1)
  })

  it('writes resources, masks and seccomp', () => {
    const config = configOf(identityProfile)
    expect(config.linux.resources.memory).toEqual({ limit: 536870912 })
    expect(config.linux.resources.pids).toEqual({ limit: 64 })
    expect(config.linux.resources.cpu).toEqual({ quota: 100000, period: 100000 })
    expect(config.linux.maskedPaths).toContain('/etc/shadow')
    expect(config.linux.maskedPaths).toContain('/proc/kcore')
    expect(config.linux.readonlyPaths).toContain('/proc/sys')
    const seccomp = JSON.parse(exportProfile(identityProfile, 'seccomp').text)
    expect(config.linux.seccomp).toEqual(seccomp)
  })

  it('omits seccomp and limits when absent', () => {
    const config = configOf(cases.at(-1)![1])
    expect(config.linux.seccomp).toBeUndefined()
    expect(config.linux.resources.memory).toBeUndefined()
    expect(config.linux.resources.cpu).toBeUndefined()
    expect(config.process.rlimits.map((rlimit) => rlimit.type)).not.toContain('RLIMIT_AS')
  })

  it('warns about what it cannot express', () => {
    const { warnings } = exportProfile(everyFeatureProfile, 'oci', { command: ['/bin/true'], identity: { uid: 1, gid: 1 } })
    expect(warnings.some((w) => w.startsWith('filesystem.file_access /etc/every (r)'))).toBe(true)
    expect(warnings.some((w) => w.startsWith('network.mode veth'))).toBe(true)
    expect(warnings.some((w) => w.startsWith('network.allowed_ports [80, 8443]'))).toBe(true)
    expect(warnings.some((w) => w.startsWith('network.outbound [192.0.2.0/24, 2001:db8::/32]'))).toBe(true)
    expect(warnings.some((w) => w.startsWith('environment.allow [TZ]'))).toBe(true)
    const worker = exportProfile(workerProfile, 'oci', { command: ['/bin/true'] }).warnings
    expect(worker.some((w) => w.startsWith('network.allow_localhost'))).toBe(false)
  })
})
