// Seccomp export in the OCI runtime-spec / Docker JSON format (the
// `linux.seccomp` object of config.json, also accepted by `docker run
// --security-opt seccomp=FILE`).
//
// It carries the policy of Blackhole's own filter (src/seccomp/compile.ts),
// built from the same syscall sets:
//  1. Whole-syscall denials: the default deny set, minus the opt-ins the
//     profile allows (ptrace), plus the profile's `syscalls.denied` with its
//     errnos. Permissive mode logs these calls (SCMP_ACT_LOG) and lets them run.
//  2. clone3 returns ENOSYS, so libc falls back to clone, whose flags a
//     filter can read.
//  3. Argument checks, which deny with EPERM in every mode, as Blackhole's
//     pure-BPF checks do. They cover clone with CLONE_NEW* flags, the ioctls
//     TIOCSTI and TIOCLINUX, and personality other than 0 and 0xffffffff
//     (unless opted in). For socket they cover AF_PACKET and SOCK_RAW (unless
//     opted in), AF_UNIX without network.allow_unix_sockets, and netlink
//     other than NETLINK_ROUTE.
// The default action is SCMP_ACT_ALLOW, so allowed syscalls need no rule: an
// explicit SCMP_ACT_ALLOW rule would equal the default action, which
// libseccomp rejects with EACCES.
//
// Cannot express: the watched syscalls (execve, connect, bind), which
// Blackhole reports through seccomp user notification; SCMP_ACT_NOTIFY needs
// a listener the runtime would hand to Blackhole's supervisor. Blackhole also
// kills i386 and arm compat calls on a 64-bit kernel and answers x32 calls
// and unknown numbers with ENOSYS; this JSON, like Docker's, applies the same
// rules on all five architectures instead.

import type { Profile } from '../profile.js'
import { DEFAULT_DENIED_SYSCALLS, OPT_IN_SYSCALLS } from '../seccomp/syscall-sets.js'
import { ERRNO } from '../tables/errno.js'
import type { ExportOptions, ExportResult } from './types.js'

export type SeccompAction = 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO' | 'SCMP_ACT_LOG'
export type SeccompOperator = 'SCMP_CMP_EQ' | 'SCMP_CMP_NE' | 'SCMP_CMP_MASKED_EQ'

export interface SeccompArg {
  index: number
  value: number
  valueTwo?: number
  op: SeccompOperator
}

export interface SeccompRule {
  names: string[]
  action: SeccompAction
  errnoRet?: number
  args?: SeccompArg[]
}

export interface SeccompProfile {
  defaultAction: SeccompAction
  architectures: string[]
  syscalls: SeccompRule[]
}

/** Architectures the filter covers; libseccomp resolves each name per architecture. */
export const SECCOMP_ARCHITECTURES = [
  'SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM',
]

// CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
// CLONE_NEWPID and CLONE_NEWNET from linux/sched.h. CLONE_NEWTIME (0x80) is
// left out: in clone(2) that bit belongs to the exit signal, and a new time
// namespace needs unshare(2) or clone3(2), which the filter denies.
export const CLONE_NAMESPACE_FLAGS = [
  0x20000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000,
]

export const TIOCSTI = 0x5412
export const TIOCLINUX = 0x541c
const AF_UNIX = 1
const AF_NETLINK = 16
const AF_PACKET = 17
const SOCK_RAW = 3
const NETLINK_ROUTE = 0
// SOCK_TYPE_MASK: socket(2) ORs SOCK_NONBLOCK and SOCK_CLOEXEC into the type.
const SOCK_TYPE_MASK = 0xf
// ioctl(2) and personality(2) take an unsigned int: the kernel ignores the
// upper half of the register, so the filter must ignore it too.
const LOW_32_BITS = 0xffffffff
const DEFAULT_ERRNO = 'EPERM'

function errnoNumber(name: string): number {
  const value = ERRNO[name]
  if (value === undefined) {
    throw new Error(`unknown errno name ${JSON.stringify(name)}: use a Linux name such as EPERM, EACCES or ENOSYS`)
  }
  return value
}

/**
 * Returns the whole-syscall denials of a profile with their errno names: the
 * default set minus opted-in names, then the profile's own denials, whose
 * errno wins over a default.
 */
export function deniedSyscalls(profile: Profile): Map<string, string> {
  const optedIn = new Set(profile.syscalls.allowed.map((rule) => rule.name).filter((name) => OPT_IN_SYSCALLS.includes(name)))
  const denied = new Map<string, string>()
  for (const name of DEFAULT_DENIED_SYSCALLS) {
    if (!optedIn.has(name)) denied.set(name, DEFAULT_ERRNO)
  }
  for (const rule of profile.syscalls.denied) denied.set(rule.name, rule.errno ?? DEFAULT_ERRNO)
  return denied
}

/** Builds the seccomp JSON object and the warnings for rules it cannot carry. */
export function buildSeccompProfile(profile: Profile): { seccomp: SeccompProfile; warnings: string[] } {
  const warnings: string[] = []
  if (profile.enforceMode === 'disabled') {
    warnings.push('enforce_mode: disabled, so the seccomp profile allows every syscall')
    return {
      seccomp: { defaultAction: 'SCMP_ACT_ALLOW', architectures: [...SECCOMP_ARCHITECTURES], syscalls: [] },
      warnings,
    }
  }

  const optedIn = new Set(profile.syscalls.allowed.map((rule) => rule.name).filter((name) => OPT_IN_SYSCALLS.includes(name)))
  const rules: SeccompRule[] = []
  const errnoRule = (names: string[], errno: string, args?: SeccompArg[]): void => {
    const rule: SeccompRule = { names, action: 'SCMP_ACT_ERRNO', errnoRet: errnoNumber(errno) }
    if (args) rule.args = args
    rules.push(rule)
  }

  // 1. Whole-syscall denials, grouped by errno.
  const denied = deniedSyscalls(profile)
  const namesByErrno = new Map<string, string[]>()
  for (const [name, errno] of denied) namesByErrno.set(errno, [...(namesByErrno.get(errno) ?? []), name])
  for (const [errno, names] of namesByErrno) {
    if (profile.enforceMode === 'permissive') rules.push({ names: names.sort(), action: 'SCMP_ACT_LOG' })
    else errnoRule(names.sort(), errno)
  }

  // 2. clone3, unless the profile denies it outright with its own errno.
  if (!denied.has('clone3')) errnoRule(['clone3'], 'ENOSYS')

  // 3. Argument checks, skipped for a syscall the profile denies outright.
  const checked = (name: string): boolean => !denied.has(name)
  if (checked('clone')) {
    // One rule per flag: a rule matches when that flag is set.
    for (const flag of CLONE_NAMESPACE_FLAGS) {
      errnoRule(['clone'], DEFAULT_ERRNO, [{ index: 0, value: flag, valueTwo: flag, op: 'SCMP_CMP_MASKED_EQ' }])
    }
  }
  if (checked('ioctl')) {
    for (const request of [TIOCSTI, TIOCLINUX]) {
      errnoRule(['ioctl'], DEFAULT_ERRNO, [{ index: 1, value: LOW_32_BITS, valueTwo: request, op: 'SCMP_CMP_MASKED_EQ' }])
    }
  }
  if (checked('personality') && !optedIn.has('personality')) {
    for (const args of personalityDenyArgs()) errnoRule(['personality'], DEFAULT_ERRNO, args)
  }
  if (checked('socket')) {
    for (const args of socketDenyArgs(profile, optedIn.has('socket'))) errnoRule(['socket'], DEFAULT_ERRNO, args)
  }

  return {
    seccomp: { defaultAction: 'SCMP_ACT_ALLOW', architectures: [...SECCOMP_ARCHITECTURES], syscalls: rules },
    warnings,
  }
}

/** Returns one argument list per denied socket(2) form; comparisons on different arguments are ANDed. */
function socketDenyArgs(profile: Profile, rawAllowed: boolean): SeccompArg[][] {
  const lists: SeccompArg[][] = [
    // netlink only for NETLINK_ROUTE (interface and address lookups).
    [{ index: 0, value: AF_NETLINK, op: 'SCMP_CMP_EQ' }, { index: 2, value: NETLINK_ROUTE, op: 'SCMP_CMP_NE' }],
  ]
  if (!rawAllowed) {
    lists.push([{ index: 0, value: AF_PACKET, op: 'SCMP_CMP_EQ' }])
    // SOCK_RAW in any family but netlink, whose sockets are SOCK_RAW by design.
    lists.push([
      { index: 0, value: AF_NETLINK, op: 'SCMP_CMP_NE' },
      { index: 1, value: SOCK_TYPE_MASK, valueTwo: SOCK_RAW, op: 'SCMP_CMP_MASKED_EQ' },
    ])
  }
  if (!profile.network.allowUnixSockets) lists.push([{ index: 0, value: AF_UNIX, op: 'SCMP_CMP_EQ' }])
  return lists
}

/**
 * Returns one argument list per rule so that personality(2) is denied for
 * every value but 0 (PER_LINUX) and 0xffffffff (query). A 32-bit value is
 * neither all zeros nor all ones exactly when some bit is set and the next
 * bit (cyclically) is clear, so 32 masked comparisons of two bits cover it
 * without two comparisons on one argument.
 */
function personalityDenyArgs(): SeccompArg[][] {
  const lists: SeccompArg[][] = []
  for (let bit = 0; bit < 32; bit++) {
    const set = 2 ** bit
    const clear = 2 ** ((bit + 1) % 32)
    lists.push([{ index: 0, value: set + clear, valueTwo: set, op: 'SCMP_CMP_MASKED_EQ' }])
  }
  return lists
}

export function exportSeccomp(profile: Profile, _options: ExportOptions): ExportResult {
  const { seccomp, warnings } = buildSeccompProfile(profile)
  return {
    text: JSON.stringify(seccomp, null, 2) + '\n',
    warnings,
    mediaType: 'application/json',
    fileName: `${profile.name}.seccomp.json`,
  }
}
