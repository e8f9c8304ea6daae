import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { exportProfile } from '../src/export/index.js'
import { CLONE_NAMESPACE_FLAGS, type SeccompArg, type SeccompProfile, type SeccompRule } from '../src/export/seccomp.js'
import type { Profile } from '../src/profile.js'
import { runFilter, SECCOMP_RET } from '../src/seccomp/bpf.js'
import { AUDIT_ARCH, compileSeccomp } from '../src/seccomp/compile.js'
import { DEFAULT_DENIED_SYSCALLS } from '../src/seccomp/syscall-sets.js'
import { SYSCALLS_X86_64 } from '../src/tables/syscalls.js'
import { everyFeatureProfile, identityProfile, strictProfile, wideOpenProfile, withChanges, workerProfile } from './fixtures/export/profiles.js'

const PROBE = fileURLToPath(new URL('./fixtures/export/seccomp-probe.py', import.meta.url))
const workDir = mkdtempSync(join(tmpdir(), 'blackhole-seccomp-'))
afterAll(() => rmSync(workDir, { recursive: true, force: true }))

const EPERM = 1
const EACCES = 13
const ENOSYS = 38

function seccompOf(profile: Profile): SeccompProfile {
  return JSON.parse(exportProfile(profile, 'seccomp').text) as SeccompProfile
}

/** Returns the errno of an unconditional rule for `name`, or undefined. */
function plainErrno(seccomp: SeccompProfile, name: string): number | undefined {
  const rule = seccomp.syscalls.find((entry) => entry.names.includes(name) && !entry.args)
  return rule?.errnoRet
}

function rulesFor(seccomp: SeccompProfile, name: string): SeccompRule[] {
  return seccomp.syscalls.filter((entry) => entry.names.includes(name))
}

/**
 * Installs the exported filter in a Python process through libseccomp (the
 * library runc and crun use) and returns the errno of each probe syscall.
 */
function probe(profile: Profile, label: string): Record<string, number> {
  const file = join(workDir, `${label}.json`)
  writeFileSync(file, exportProfile(profile, 'seccomp').text)
  const output = execFileSync('/usr/bin/python3', [PROBE, file], { encoding: 'utf8', timeout: 30_000 })
  return JSON.parse(output) as Record<string, number>
}

describe('seccomp export', () => {
  it('denies the default set with EPERM', () => {
    const seccomp = seccompOf(strictProfile('strict'))
    expect(seccomp.defaultAction).toBe('SCMP_ACT_ALLOW')
    expect(seccomp.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'])
    for (const name of DEFAULT_DENIED_SYSCALLS) expect(plainErrno(seccomp, name), name).toBe(EPERM)
    expect(plainErrno(seccomp, 'clone3')).toBe(ENOSYS)
    for (const rule of seccomp.syscalls) expect(rule.action).toBe('SCMP_ACT_ERRNO')
  })

  it('adds profile denials with their errno', () => {
    const seccomp = seccompOf(everyFeatureProfile)
    expect(plainErrno(seccomp, 'chroot')).toBe(EACCES)
    expect(plainErrno(seccomp, 'mknod')).toBe(EPERM)
    expect(plainErrno(seccomp, 'uselib')).toBe(ENOSYS)
  })

  it('lifts only the opt-in syscalls', () => {
    const seccomp = seccompOf(everyFeatureProfile)
    expect(rulesFor(seccomp, 'ptrace')).toEqual([])
    // clone is not an opt-in, so allowing it keeps the flag checks.
    expect(rulesFor(seccomp, 'clone')).toHaveLength(CLONE_NAMESPACE_FLAGS.length)
    const worker = seccompOf(withChanges(workerProfile, { enforceMode: 'enforce' }))
    expect(rulesFor(worker, 'personality')).toEqual([])
    const raw = seccompOf(withChanges(identityProfile, { syscalls: { allowed: [{ name: 'socket', errno: null }], denied: [] } }))
    const packet = rulesFor(raw, 'socket').filter((rule) => rule.args?.[0]?.value === 17)
    expect(packet).toEqual([])
  })

  it('checks clone flags one rule per flag', () => {
    const rules = rulesFor(seccompOf(identityProfile), 'clone')
    expect(rules).toHaveLength(CLONE_NAMESPACE_FLAGS.length)
    for (const rule of rules) {
      const arg = rule.args?.[0]
      expect(rule.args).toHaveLength(1)
      expect(arg?.op).toBe('SCMP_CMP_MASKED_EQ')
      expect(arg?.value).toBe(arg?.valueTwo)
    }
  })

  it('denies AF_UNIX only when unix sockets are off', () => {
    const unix = (seccomp: SeccompProfile) =>
      rulesFor(seccomp, 'socket').filter((rule) => rule.args?.length === 1 && rule.args[0]?.value === 1)
    expect(unix(seccompOf(identityProfile))).toHaveLength(1)
    expect(unix(seccompOf(everyFeatureProfile))).toHaveLength(0)
  })

  it('logs whole-syscall denials when permissive', () => {
    const seccomp = seccompOf(workerProfile)
    expect(seccomp.defaultAction).toBe('SCMP_ACT_ALLOW')
    const logged = seccomp.syscalls.filter((rule) => rule.action === 'SCMP_ACT_LOG')
    expect(logged).toHaveLength(1)
    expect(logged[0]!.names).toContain('bpf')
    expect(logged[0]!.names).toContain('kill')
    expect(logged[0]!.errnoRet).toBeUndefined()
    // Argument checks and clone3 deny in every mode, as in Blackhole's filter.
    for (const rule of seccomp.syscalls.filter((entry) => entry.action !== 'SCMP_ACT_LOG')) {
      expect(rule.action).toBe('SCMP_ACT_ERRNO')
    }
    expect(plainErrno(seccomp, 'clone3')).toBe(ENOSYS)
  })

  it('allows everything with a warning when disabled', () => {
    const result = exportProfile(withChanges(strictProfile('off'), { enforceMode: 'disabled' }), 'seccomp')
    const seccomp = JSON.parse(result.text) as SeccompProfile
    expect(seccomp.defaultAction).toBe('SCMP_ACT_ALLOW')
    expect(seccomp.syscalls).toEqual([])
    expect(result.warnings).toHaveLength(1)
    expect(result.warnings[0]).toMatch(/^enforce_mode: disabled/)
    expect(result.mediaType).toBe('application/json')
  })

  it('throws on an unknown errno name', () => {
    const profile = withChanges(strictProfile('bad'), { syscalls: { allowed: [], denied: [{ name: 'chroot', errno: 'EWHATEVER' }] } })
    expect(() => exportProfile(profile, 'seccomp')).toThrow(/EWHATEVER/)
  })

  // Real libseccomp and the real kernel: the filter is compiled for all five
  // architectures and installed in a child process (x86_64 syscall numbers).
  it.runIf(process.arch === 'x64')('enforces the policy when installed', () => {
    const got = probe(identityProfile, 'identity')
    expect(got.getpid).toBe(0)
    expect(got.personality_query).toBe(0)
    expect(got.personality_linux).toBe(0)
    expect(got.personality_linux32).toBe(EPERM)
    expect(got.personality_no_randomize).toBe(EPERM)
    expect(got.unshare_user).toBe(EPERM)
    expect(got.clone_plain).toBe(0)
    expect(got.clone_newuser).toBe(EPERM)
    expect(got.clone_newnet).toBe(EPERM)
    expect(got.clone3).toBe(ENOSYS)
    expect(got.socket_inet_stream).toBe(0)
    expect(got.socket_inet_raw_cloexec).toBe(EPERM)
    expect(got.socket_packet).toBe(EPERM)
    expect(got.socket_unix).toBe(EPERM)
    expect(got.socketpair_unix).toBe(0)
    expect(got.socket_netlink_route).toBe(0)
    expect(got.socket_netlink_audit).toBe(EPERM)
    expect(got.ioctl_tcgets).toBe(9) // EBADF from the kernel: the filter lets it through
    expect(got.ioctl_tiocsti).toBe(EPERM)
    expect(got.ioctl_tiocsti_high_bits).toBe(EPERM)
    expect(got.ioctl_tioclinux).toBe(EPERM)
    expect(got.chroot).toBe(EACCES)
    expect(got.bpf).toBe(EPERM)
    expect(got.keyctl).toBe(EPERM)
    expect(got.ptrace).toBe(EPERM)
  })

  it.runIf(process.arch === 'x64')('lets re-allowed calls through when installed', () => {
    const got = probe(everyFeatureProfile, 'every')
    expect(got.ptrace).toBe(3) // ESRCH from the kernel: no such process
    expect(got.clone_newnet).toBe(EPERM)
    expect(got.socket_unix).toBe(0)
    expect(got.chroot).toBe(EACCES)
    expect(got.bpf).toBe(EPERM)
  })

  it.runIf(process.arch === 'x64')('probes differ without a filter', () => {
    // Guards the probe: with the filter disabled, the kernel returns its own errors.
    const got = probe(withChanges(strictProfile('off'), { enforceMode: 'disabled' }), 'off')
    expect(got.personality_linux32).toBe(0)
    expect(got.clone3).not.toBe(ENOSYS)
    expect(got.chroot).not.toBe(EACCES)
    expect(got.ioctl_tiocsti).toBe(9)
  })
  // The export must carry the policy of Blackhole's own BPF filter. Both are
  // evaluated for every x86_64 syscall with ordinary arguments and for the
  // argument-checked syscalls with the values their checks look at.
  for (const profile of [identityProfile, workerProfile, everyFeatureProfile, withChanges(wideOpenProfile, { enforceMode: 'enforce' })]) {
    it(`decides like the compiled filter for ${profile.name}`, () => {
      const compiled = compileSeccomp(profile, 'x86_64')
      const exported = seccompOf(profile)
      const mismatches: string[] = []
      for (const [name, nr] of Object.entries(SYSCALLS_X86_64)) {
        for (const args of argumentCases(name)) {
          const expected = blackholeDecision(compiled, nr, args)
          const actual = exportDecision(exported, name, args)
          if (expected !== actual) mismatches.push(`${name}(${args.join(', ')}): filter ${expected}, export ${actual}`)
        }
      }
      expect(mismatches).toEqual([])
    })
  }
})

const SOCKET_FAMILIES = [1, 2, 10, 16, 17]
const SOCKET_TYPES = [1, 2, 3, 3 | 0o2000000 | 0o4000]

function argumentCases(name: string): bigint[][] {
  const n = (...values: (number | bigint)[]) => values.map((value) => BigInt(value))
  switch (name) {
    case 'clone':
      return [n(17), n(0x80 | 17), ...CLONE_NAMESPACE_FLAGS.map((flag) => n(flag | 17)), n(0x10000000 | 0x40000000)]
    case 'ioctl':
      return [n(1, 0x5401), n(1, 0x5412), n(1, 0x541c), n(1, (1n << 32n) | 0x5412n)]
    case 'personality':
      return [n(0), n(0xffffffff), n(8), n(0x40000), n((1n << 32n) | 0xffffffffn)]
    case 'socket':
      return SOCKET_FAMILIES.flatMap((family) => SOCKET_TYPES.flatMap((type) => [n(family, type, 0), n(family, type, 9)]))
    default:
      return [n(0, 0, 0)]
  }
}

function blackholeDecision(compiled: ReturnType<typeof compileSeccomp>, nr: number, args: bigint[]): string {
  const value = runFilter(compiled.filter!, { nr, arch: AUDIT_ARCH.X86_64, args }) >>> 0
  if (value === SECCOMP_RET.ALLOW) return 'allow'
  if ((value & 0xffff0000) >>> 0 === SECCOMP_RET.ERRNO) return `errno ${value & 0xffff}`
  if ((value & 0xffff0000) >>> 0 === SECCOMP_RET.USER_NOTIF) {
    const action = compiled.notifyActions[nr]
    if (action?.action === 'errno') return `errno ${action.errno}`
    // Watched calls run on, and denied ones in permissive mode run and are logged.
    return action?.reason === 'denied' ? 'log' : 'allow'
  }
  return `other 0x${value.toString(16)}`
}

function argMatches(arg: SeccompArg, args: bigint[]): boolean {
  const value = args[arg.index] ?? 0n
  switch (arg.op) {
    case 'SCMP_CMP_EQ':
      return value === BigInt(arg.value)
    case 'SCMP_CMP_NE':
      return value !== BigInt(arg.value)
    case 'SCMP_CMP_MASKED_EQ':
      return (value & BigInt(arg.value)) === BigInt(arg.valueTwo ?? 0)
  }
}

/** Evaluates the JSON the way libseccomp does for rules that never overlap with different actions. */
function exportDecision(seccomp: SeccompProfile, name: string, args: bigint[]): string {
  for (const rule of seccomp.syscalls) {
    if (!rule.names.includes(name)) continue
    if (!(rule.args ?? []).every((arg) => argMatches(arg, args))) continue
    if (rule.action === 'SCMP_ACT_ERRNO') return `errno ${rule.errnoRet}`
    return rule.action === 'SCMP_ACT_LOG' ? 'log' : 'allow'
  }
  return 'allow'
}
