import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { exportProfile } from '../src/export/index.js'
import { CLONE_NAMESPACE_FLAGS, DEFAULT_DENIED_SYSCALLS, type SeccompProfile, type SeccompRule } from '../src/export/seccomp.js'
import type { Profile } from '../src/profile.js'
import { everyFeatureProfile, identityProfile, strictProfile, withChanges, workerProfile } from './fixtures/export/profiles.js'

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

  it('drops rules the allowed list re-allows', () => {
    const seccomp = seccompOf(everyFeatureProfile)
    expect(rulesFor(seccomp, 'ptrace')).toEqual([])
    expect(rulesFor(seccomp, 'clone')).toEqual([])
    const worker = seccompOf(withChanges(workerProfile, { enforceMode: 'enforce' }))
    expect(rulesFor(worker, 'personality')).toEqual([])
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

  it('logs instead of denying when permissive', () => {
    const seccomp = seccompOf(workerProfile)
    expect(seccomp.defaultAction).toBe('SCMP_ACT_ALLOW')
    expect(seccomp.syscalls.length).toBeGreaterThan(0)
    for (const rule of seccomp.syscalls) {
      expect(rule.action).toBe('SCMP_ACT_LOG')
      expect(rule.errnoRet).toBeUndefined()
    }
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
    expect(got.clone_newnet).toBe(0)
    expect(got.socket_unix).toBe(0)
    expect(got.chroot).toBe(EACCES)
    expect(got.bpf).toBe(EPERM)
  })

  it.runIf(process.arch === 'x64')('probes differ without a filter', () => {
    // Guards the probe: with the filter disabled the kernel answers itself.
    const got = probe(withChanges(strictProfile('off'), { enforceMode: 'disabled' }), 'off')
    expect(got.personality_linux32).toBe(0)
    expect(got.clone3).not.toBe(ENOSYS)
    expect(got.chroot).not.toBe(EACCES)
    expect(got.ioctl_tiocsti).toBe(9)
  })
})
