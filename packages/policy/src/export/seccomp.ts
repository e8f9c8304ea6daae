// Seccomp export in the OCI runtime-spec / Docker JSON format (the
// `linux.seccomp` object of config.json, also accepted by `docker run
// --security-opt seccomp=FILE`).
//
// Blackhole's own filter is a deny list: every syscall runs except a default
// deny set plus the profile's `syscalls.denied`, and `syscalls.allowed`
// removes names from that set. So the default action is SCMP_ACT_ALLOW and
// only the denials are rules. The allowed list shows as names missing from
// the deny rules: an explicit SCMP_ACT_ALLOW rule would equal the default
// action, which libseccomp rejects with EACCES.
//
// Cannot express: nothing of the syscall policy itself. Argument checks that
// a runtime splits into OR-ed rules (two comparisons on one argument) are
// written as several single-comparison rules instead, so the JSON means the
// same under runc, crun and Docker.

import type { Profile } from '../profile.js'
import { DEFAULT_ERRNO, errnoNumber } from './errno.js'
import type { ExportOptions, ExportResult } from './types.js'

export type SeccompAction = 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO' | 'SCMP_ACT_LOG'
export type SeccompOperator = 'SCMP_CMP_EQ' | 'SCMP_CMP_MASKED_EQ'

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

/** Syscalls every Blackhole sandbox denies with EPERM unless the profile allows them by name. */
export const DEFAULT_DENIED_SYSCALLS: readonly string[] = [
  // kernel code and modules
  'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module',
  'bpf', 'perf_event_open', 'userfaultfd', 'iopl', 'ioperm',
  // kernel keyrings are not namespaced
  'keyctl', 'add_key', 'request_key',
  // io_uring bypasses seccomp for the operations it submits
  'io_uring_setup', 'io_uring_enter', 'io_uring_register',
  // namespaces and mounts
  'unshare', 'setns', 'mount', 'umount2', 'pivot_root', 'fsopen', 'fsconfig', 'fsmount',
  'fspick', 'open_tree', 'move_mount', 'mount_setattr',
  // other processes' memory
  'ptrace', 'process_vm_readv', 'process_vm_writev',
  // host-wide state
  'acct', 'swapon', 'swapoff', 'reboot', 'settimeofday', 'clock_settime', 'adjtimex',
  'syslog', 'vhangup', 'quotactl',
  // file handles skip path permission checks
  'open_by_handle_at', 'name_to_handle_at',
]

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
const AF_INET = 2
const AF_INET6 = 10
const AF_PACKET = 17
const SOCK_RAW = 3
// SOCK_TYPE_MASK: socket(2) ORs SOCK_NONBLOCK and SOCK_CLOEXEC into the type.
const SOCK_TYPE_MASK = 0xf
// ioctl(2) and personality(2) take an unsigned int: the kernel ignores the
// upper half of the register, so the filter must ignore it too.
const LOW_32_BITS = 0xffffffff

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

  const permissive = profile.enforceMode === 'permissive'
  const allowed = new Set(profile.syscalls.allowed.map((rule) => rule.name))
  const rules: SeccompRule[] = []
  const deny = (names: string[], errno: string, args?: SeccompArg[]): void => {
    const rule: SeccompRule = permissive
      ? { names, action: 'SCMP_ACT_LOG' }
      : { names, action: 'SCMP_ACT_ERRNO', errnoRet: errnoNumber(errno) }
    if (args) rule.args = args
    rules.push(rule)
  }

  // 1. Whole-syscall denials, grouped by errno. A profile entry overrides the
  //    default errno of the same name.
  const errnoByName = new Map<string, string>()
  for (const name of DEFAULT_DENIED_SYSCALLS) {
    if (!allowed.has(name)) errnoByName.set(name, DEFAULT_ERRNO)
  }
  if (!allowed.has('clone3')) errnoByName.set('clone3', 'ENOSYS')
  for (const rule of profile.syscalls.denied) {
    errnoByName.set(rule.name, rule.errno ?? DEFAULT_ERRNO)
  }
  const namesByErrno = new Map<string, string[]>()
  for (const [name, errno] of errnoByName) {
    namesByErrno.set(errno, [...(namesByErrno.get(errno) ?? []), name])
  }
  for (const [errno, names] of namesByErrno) deny(names.sort(), errno)

  // 2. Argument rules, skipped when the syscall is allowed by name or already
  //    denied outright.
  const conditional = (name: string): boolean => !allowed.has(name) && !errnoByName.has(name)
  if (conditional('clone')) {
    // One rule per flag: a rule matches when that flag is set.
    for (const flag of CLONE_NAMESPACE_FLAGS) {
      deny(['clone'], DEFAULT_ERRNO, [{ index: 0, value: flag, valueTwo: flag, op: 'SCMP_CMP_MASKED_EQ' }])
    }
  }
  if (conditional('personality')) {
    for (const args of personalityDenyArgs()) deny(['personality'], DEFAULT_ERRNO, args)
  }
  if (conditional('ioctl')) {
    for (const request of [TIOCSTI, TIOCLINUX]) {
      deny(['ioctl'], DEFAULT_ERRNO, [{ index: 1, value: LOW_32_BITS, valueTwo: request, op: 'SCMP_CMP_MASKED_EQ' }])
    }
  }
  if (conditional('socket')) {
    for (const family of [AF_INET, AF_INET6]) {
      deny(['socket'], DEFAULT_ERRNO, [
        { index: 0, value: family, op: 'SCMP_CMP_EQ' },
        { index: 1, value: SOCK_TYPE_MASK, valueTwo: SOCK_RAW, op: 'SCMP_CMP_MASKED_EQ' },
      ])
    }
    deny(['socket'], DEFAULT_ERRNO, [{ index: 0, value: AF_PACKET, op: 'SCMP_CMP_EQ' }])
    if (!profile.network.allowUnixSockets) {
      deny(['socket', 'socketpair'], DEFAULT_ERRNO, [{ index: 0, value: AF_UNIX, op: 'SCMP_CMP_EQ' }])
    }
  }

  return {
    seccomp: { defaultAction: 'SCMP_ACT_ALLOW', architectures: [...SECCOMP_ARCHITECTURES], syscalls: rules },
    warnings,
  }
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
