import { describe, expect, it } from 'vitest'
import { exportProfile } from '../src/export/index.js'
import type { OciConfig } from '../src/export/oci.js'
import type { Profile } from '../src/profile.js'
import { everyFeatureProfile, exampleProfiles, identityProfile, strictProfile, withChanges, workerProfile } from './fixtures/export/profiles.js'

const UINT32_MAX = 2 ** 32 - 1
const NAMESPACES = ['mount', 'pid', 'network', 'uts', 'ipc', 'user', 'cgroup', 'time']
const SECCOMP_ACTIONS = [
  'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY',
]
const SECCOMP_OPERATORS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ']
const ARCHITECTURES = ['SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64']

type Json = Record<string, unknown>
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value)
const isUint = (value: unknown, max = Number.MAX_SAFE_INTEGER): boolean => Number.isInteger(value) && (value as number) >= 0 && (value as number) <= max
const isStringArray = (value: unknown): boolean => Array.isArray(value) && value.every((item) => typeof item === 'string')

/**
 * Returns every place where `config` breaks the runtime-spec 1.2 JSON schema
 * (config-schema.json, config-linux.json and defs*.json), for the fields the
 * export writes: required members, types, integer ranges and enums.
 */
function specProblems(config: unknown): string[] {
  const problems: string[] = []
  const need = (ok: boolean, where: string) => { if (!ok) problems.push(where) }
  need(isObject(config), 'config is an object')
  if (!isObject(config)) return problems
  need(typeof config.ociVersion === 'string', 'ociVersion is a string')
  need(typeof config.hostname === 'string', 'hostname is a string')

  const root = config.root
  need(isObject(root) && typeof root.path === 'string' && typeof root.readonly === 'boolean', 'root.path and root.readonly')

  const process = config.process
  need(isObject(process), 'process is an object')
  if (isObject(process)) {
    need(typeof process.cwd === 'string' && process.cwd.startsWith('/'), 'process.cwd is absolute')
    if (process.args !== undefined) need(isStringArray(process.args) && (process.args as string[]).length > 0, 'process.args has an entry')
    need(isStringArray(process.env) && (process.env as string[]).every((entry) => entry.includes('=')), 'process.env entries are NAME=value')
    need(typeof process.noNewPrivileges === 'boolean', 'process.noNewPrivileges is a boolean')
    const user = process.user
    need(isObject(user) && isUint(user.uid, UINT32_MAX) && isUint(user.gid, UINT32_MAX), 'process.user uid and gid are uint32')
    if (isObject(user) && user.umask !== undefined) need(isUint(user.umask, UINT32_MAX), 'process.user.umask is uint32')
    const caps = process.capabilities
    need(isObject(caps), 'process.capabilities is an object')
    if (isObject(caps)) {
      for (const set of ['bounding', 'effective', 'permitted', 'inheritable', 'ambient']) {
        need(isStringArray(caps[set]) && (caps[set] as string[]).every((cap) => /^CAP_[A-Z_]+$/.test(cap)), `capabilities.${set}`)
      }
    }
    const rlimits = process.rlimits
    need(Array.isArray(rlimits), 'process.rlimits is an array')
    for (const [i, rlimit] of (Array.isArray(rlimits) ? rlimits : []).entries()) {
      need(isObject(rlimit) && /^RLIMIT_[A-Z]+$/.test(String(rlimit.type)) && isUint(rlimit.soft) && isUint(rlimit.hard), `rlimits[${i}]`)
    }
  }

  const mounts = config.mounts
  need(Array.isArray(mounts), 'mounts is an array')
  for (const [i, mount] of (Array.isArray(mounts) ? mounts : []).entries()) {
    need(isObject(mount) && typeof mount.destination === 'string' && mount.destination.startsWith('/'), `mounts[${i}].destination`)
    need(isObject(mount) && typeof mount.type === 'string' && typeof mount.source === 'string', `mounts[${i}] type and source`)
    need(isObject(mount) && isStringArray(mount.options), `mounts[${i}].options`)
  }

  const linux = config.linux
  need(isObject(linux), 'linux is an object')
  if (!isObject(linux)) return problems
  const namespaces = linux.namespaces
  need(Array.isArray(namespaces), 'linux.namespaces is an array')
  for (const [i, ns] of (Array.isArray(namespaces) ? namespaces : []).entries()) {
    need(isObject(ns) && NAMESPACES.includes(String(ns.type)), `linux.namespaces[${i}].type`)
  }
  need(isStringArray(linux.maskedPaths) && isStringArray(linux.readonlyPaths), 'maskedPaths and readonlyPaths')
  const resources = linux.resources
  need(isObject(resources), 'linux.resources is an object')
  if (isObject(resources)) {
    if (resources.memory !== undefined) need(isObject(resources.memory) && Number.isInteger(resources.memory.limit), 'memory.limit is int64')
    need(isObject(resources.pids) && Number.isInteger(resources.pids.limit), 'pids.limit is int64')
    if (resources.cpu !== undefined) {
      need(isObject(resources.cpu) && Number.isInteger(resources.cpu.quota) && isUint(resources.cpu.period), 'cpu quota and period')
    }
  }
  const seccomp = linux.seccomp
  if (seccomp !== undefined) {
    need(isObject(seccomp) && SECCOMP_ACTIONS.includes(String(seccomp.defaultAction)), 'seccomp.defaultAction')
    if (isObject(seccomp)) {
      need(Array.isArray(seccomp.architectures) && (seccomp.architectures as unknown[]).every((a) => ARCHITECTURES.includes(String(a))), 'seccomp.architectures')
      const rules = Array.isArray(seccomp.syscalls) ? seccomp.syscalls : []
      for (const [i, rule] of rules.entries()) {
        need(isObject(rule) && isStringArray(rule.names) && (rule.names as string[]).length > 0, `syscalls[${i}].names`)
        need(isObject(rule) && SECCOMP_ACTIONS.includes(String(rule.action)), `syscalls[${i}].action`)
        if (isObject(rule) && rule.errnoRet !== undefined) need(isUint(rule.errnoRet, UINT32_MAX), `syscalls[${i}].errnoRet`)
        const args = isObject(rule) && Array.isArray(rule.args) ? rule.args : []
        for (const [j, arg] of args.entries()) {
          need(isObject(arg) && isUint(arg.index) && isUint(arg.value) && SECCOMP_OPERATORS.includes(String(arg.op)), `syscalls[${i}].args[${j}]`)
          if (isObject(arg) && arg.valueTwo !== undefined) need(isUint(arg.valueTwo), `syscalls[${i}].args[${j}].valueTwo`)
        }
      }
    }
  }
  return problems
}

function configOf(profile: Profile, options = {}): OciConfig {
  return JSON.parse(exportProfile(profile, 'oci', options).text) as OciConfig
}

const cases: [string, Profile][] = [
  ...exampleProfiles.map((profile): [string, Profile] => [profile.name, profile]),
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
