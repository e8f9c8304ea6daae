// Compiles a profile's syscall rules into a seccomp BPF program.
//
// Layout of the program:
//  1. Check the architecture. Any other audit arch (i386 or arm compat on a
//     64-bit kernel) is killed: its syscall numbers differ and socketcall
//     hides socket arguments in memory BPF cannot read, so the sandbox does
//     not offer the compat ABI at all. On x86_64, x32 numbers (bit 30 set)
//     return ENOSYS, as on kernels built without x32.
//  2. A binary search over syscall-number ranges. Each range ends in one
//     return, or in the argument check of clone, ioctl, socket or
//     personality. Every inner node is `jge` plus a `ja` to its right half,
//     so conditional jumps never exceed their 8-bit offset.
// Decisions:
//  - numbers missing from the architecture's table: ERRNO(ENOSYS);
//  - clone3: ERRNO(ENOSYS), so libc falls back to clone, whose flags BPF can check;
//  - argument checks: ERRNO(EPERM) in pure BPF, so they hold even when the
//    supervisor is gone;
//  - denied syscalls: USER_NOTIF. The supervisor records ACCESS_DENIED and
//    returns the errno (enforce) or lets the call continue (permissive).
//    Should the supervisor die, the kernel returns ENOSYS, which still denies;
//  - watched syscalls (execve, execveat, connect, bind): USER_NOTIF, continued;
//  - everything else: ALLOW, decided in the kernel without a context switch.

import { createHash } from 'node:crypto'
import type { EnforceMode } from '../launch-spec.js'
import type { Profile } from '../profile.js'
import { ERRNO } from '../tables/errno.js'
import { SYSCALLS_AARCH64, SYSCALLS_X86_64 } from '../tables/syscalls.js'
import { encodeProgram, ProgramBuilder, SECCOMP_DATA, SECCOMP_RET } from './bpf.js'
import { PolicyCompileError } from '../errors.js'
import { DEFAULT_DENIED_SYSCALLS, LAUNCHER_SYSCALLS, OPT_IN_SYSCALLS, WATCHED_SYSCALLS } from './syscall-sets.js'

export type Arch = 'x86_64' | 'aarch64'

/** AUDIT_ARCH_* values from linux/audit.h. */
export const AUDIT_ARCH = {
  X86_64: 0xc000003e,
  I386: 0x40000003,
  AARCH64: 0xc00000b7,
  ARM: 0x40000028,
} as const

export const X32_SYSCALL_BIT = 0x40000000

/** Supervisor action for a notification about one syscall number. */
export type NotifyAction =
  | { action: 'errno'; syscall: string; errno: number; errnoName: string; reason: 'denied' }
  | { action: 'continue'; syscall: string; reason: 'denied' | 'watched' }

export interface CompiledSeccomp {
  mode: EnforceMode
  /** struct sock_filter[] as base64; null when mode is 'disabled'. */
  filter: string | null
  /** True when the filter can return USER_NOTIF, so a listener is needed. */
  listener: boolean
  /** Keyed by syscall number on the compiled architecture. */
  notifyActions: Record<number, NotifyAction>
  instructionCount: number
}

// Constants for the argument checks, identical on x86_64 and aarch64.
const CLONE_NEW_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
const TIOCSTI = 0x5412
const TIOCLINUX = 0x541c
const AF_UNIX = 1
const AF_NETLINK = 16
const AF_PACKET = 17
const SOCK_TYPE_MASK = 0xf
const SOCK_RAW = 3
const NETLINK_ROUTE = 0
const PERSONA_LINUX = 0
const PERSONA_QUERY = 0xffffffff

const ENOSYS = ERRNO['ENOSYS'] ?? 38
const EPERM = ERRNO['EPERM'] ?? 1

const TABLES: Record<Arch, Readonly<Record<string, number>>> = { x86_64: SYSCALLS_X86_64, aarch64: SYSCALLS_AARCH64 }
const ARCH_VALUES: Record<Arch, number> = { x86_64: AUDIT_ARCH.X86_64, aarch64: AUDIT_ARCH.AARCH64 }

type Leaf =
  | { kind: 'return'; value: number }
  | { kind: 'check'; syscall: 'clone' | 'ioctl' | 'socket' | 'personality' }

const cache = new Map<string, CompiledSeccomp>()

/** Compiles (and caches per profile rules, arch and mode) the seccomp filter for a profile. */
export function compileSeccomp(profile: Profile, arch: Arch): CompiledSeccomp {
  const mode = profile.enforceMode
  const relevant = { syscalls: profile.syscalls, allowUnixSockets: profile.network.allowUnixSockets }
  const key = `${createHash('sha256').update(JSON.stringify(relevant)).digest('hex')}:${arch}:${mode}`
  const cached = cache.get(key)
  if (cached !== undefined) return cached
  const compiled = mode === 'disabled'
    ? { mode, filter: null, listener: false, notifyActions: {}, instructionCount: 0 }
    : buildFilter(profile, arch, mode)
  cache.set(key, compiled)
  return compiled
}

function buildFilter(profile: Profile, arch: Arch, mode: 'enforce' | 'permissive'): CompiledSeccomp {
  const table = TABLES[arch]
  const allowed = new Set(profile.syscalls.allowed.map((rule) => rule.name))
  const notifyActions: Record<number, NotifyAction> = {}
  const leaves = new Map<number, Leaf>()
  for (const number of Object.values(table)) leaves.set(number, { kind: 'return', value: SECCOMP_RET.ALLOW })

  const deny = (name: string, errnoName: string) => {
    // Parsing rejects these already; a profile built in code must not reach the filter either.
    if (LAUNCHER_SYSCALLS.includes(name)) {
      throw new PolicyCompileError('INVALID_INPUT', `syscall "${name}" cannot be denied: the launcher calls it after installing the seccomp filter`)
    }
    const number = table[name]
    if (number === undefined) return
    const errno = ERRNO[errnoName] ?? EPERM
    notifyActions[number] = mode === 'enforce'
      ? { action: 'errno', syscall: name, errno, errnoName, reason: 'denied' }
      : { action: 'continue', syscall: name, reason: 'denied' }
    leaves.set(number, { kind: 'return', value: SECCOMP_RET.USER_NOTIF })
  }
  for (const name of WATCHED_SYSCALLS) {
    const number = table[name]
    if (number === undefined) continue
    notifyActions[number] = { action: 'continue', syscall: name, reason: 'watched' }
    leaves.set(number, { kind: 'return', value: SECCOMP_RET.USER_NOTIF })
  }
  for (const name of ['clone', 'ioctl', 'socket', 'personality'] as const) {
    const number = table[name]
    if (number !== undefined) leaves.set(number, { kind: 'check', syscall: name })
  }
  if (table['clone3'] !== undefined) leaves.set(table['clone3'], { kind: 'return', value: SECCOMP_RET.ERRNO | ENOSYS })
  for (const name of DEFAULT_DENIED_SYSCALLS) {
    if (!(OPT_IN_SYSCALLS.includes(name) && allowed.has(name))) deny(name, 'EPERM')
  }
  // The profile's own denials come last so their errno wins over a default.
  for (const rule of profile.syscalls.denied) deny(rule.name, rule.errno ?? 'EPERM')

  const builder = new ProgramBuilder()
  emitArchCheck(builder, arch)
  const ranges = toRanges(leaves)
  emitSearch(builder, ranges, 0, ranges.length - 1, { profile, allowed })
  const instructions = builder.assemble()
  return {
    mode,
    filter: encodeProgram(instructions).toString('base64'),
    listener: Object.keys(notifyActions).length > 0,
    notifyActions,
    instructionCount: instructions.length,
  }
}

function emitArchCheck(builder: ProgramBuilder, arch: Arch): void {
  builder.loadAbsolute(SECCOMP_DATA.arch)
  const native = builder.newLabel('native')
  builder.jump('eq', ARCH_VALUES[arch], native, 0)
  builder.ret(SECCOMP_RET.KILL_PROCESS)
  builder.mark(native)
  builder.loadAbsolute(SECCOMP_DATA.nr)
  if (arch === 'x86_64') {
    const x32 = builder.newLabel('x32')
    const native64 = builder.newLabel('x86_64')
    builder.jump('set', X32_SYSCALL_BIT, x32, native64)
    builder.mark(x32)
    builder.ret(SECCOMP_RET.ERRNO | ENOSYS)
    builder.mark(native64)
  }
}

interface Range {
  first: number
  leaf: Leaf
}

/** Merges consecutive numbers with the same plain return; numbers not in the table return ENOSYS. */
function toRanges(leaves: Map<number, Leaf>): Range[] {
  const max = Math.max(...leaves.keys())
  const unknown: Leaf = { kind: 'return', value: SECCOMP_RET.ERRNO | ENOSYS }
  const ranges: Range[] = []
  for (let nr = 0; nr <= max + 1; nr++) {
    const leaf = leaves.get(nr) ?? unknown
    const last = ranges[ranges.length - 1]
    const mergeable = last !== undefined && last.leaf.kind === 'return' && leaf.kind === 'return' && last.leaf.value === leaf.value
    if (!mergeable) ranges.push({ first: nr, leaf })
  }
  return ranges
}

interface CheckContext {
  profile: Profile
  allowed: Set<string>
}

/** Emits a binary search over ranges[low..high]; the accumulator contains the syscall number. */
function emitSearch(builder: ProgramBuilder, ranges: Range[], low: number, high: number, context: CheckContext): void {
  if (low === high) {
    emitLeaf(builder, (ranges[low] as Range).leaf, context)
    return
  }
  const middle = (low + high + 1) >> 1
  const right = builder.newLabel('right')
  const left = builder.newLabel('left')
  builder.jump('ge', (ranges[middle] as Range).first, 0, left)
  builder.jumpAlways(right)
  builder.mark(left)
  emitSearch(builder, ranges, low, middle - 1, context)
  builder.mark(right)
  emitSearch(builder, ranges, middle, high, context)
}

function emitLeaf(builder: ProgramBuilder, leaf: Leaf, context: CheckContext): void {
  if (leaf.kind === 'return') {
    builder.ret(leaf.value)
    return
  }
  const denyLabel = builder.newLabel(`${leaf.syscall}-deny`)
  const allow = SECCOMP_RET.ALLOW
  switch (leaf.syscall) {
    case 'clone':
      // clone's flags are argument 0 on x86_64 and aarch64; the kernel reads only their low 32 bits.
      builder.loadAbsolute(SECCOMP_DATA.argLow(0))
      builder.jump('set', CLONE_NEW_FLAGS, denyLabel, 0)
      builder.ret(allow)
      break
    case 'ioctl':
      // The request is an unsigned int in the kernel, so the high 32 bits are ignored here too.
      builder.loadAbsolute(SECCOMP_DATA.argLow(1))
      builder.jump('eq', TIOCSTI, denyLabel, 0)
      builder.jump('eq', TIOCLINUX, denyLabel, 0)
      builder.ret(allow)
      break
    case 'personality':
      if (context.allowed.has('personality')) {
        builder.ret(allow)
        return
      }
      {
        const persona = builder.newLabel('persona-ok')
        builder.loadAbsolute(SECCOMP_DATA.argLow(0))
        builder.jump('eq', PERSONA_LINUX, persona, 0)
        builder.jump('eq', PERSONA_QUERY, persona, denyLabel)
        builder.mark(persona)
        builder.ret(allow)
      }
      break
    case 'socket':
      emitSocketCheck(builder, denyLabel, context)
      break
  }
  builder.mark(denyLabel)
  builder.ret(SECCOMP_RET.ERRNO | EPERM)
}

/**
 * socket(domain, type, protocol): netlink only for NETLINK_ROUTE (interface
 * and address lookups); no AF_PACKET or SOCK_RAW unless the profile opts into
 * `socket`; AF_UNIX only with network.allow_unix_sockets. socketpair stays
 * allowed because an unnamed pair connects the service only to itself.
 */
function emitSocketCheck(builder: ProgramBuilder, denyLabel: string, context: CheckContext): void {
  const rawAllowed = context.allowed.has('socket')
  const netlink = builder.newLabel('netlink')
  builder.loadAbsolute(SECCOMP_DATA.argLow(0))
  builder.jump('eq', AF_NETLINK, netlink, 0)
  if (!rawAllowed) builder.jump('eq', AF_PACKET, denyLabel, 0)
  if (!context.profile.network.allowUnixSockets) builder.jump('eq', AF_UNIX, denyLabel, 0)
  if (!rawAllowed) {
    builder.loadAbsolute(SECCOMP_DATA.argLow(1))
    builder.and(SOCK_TYPE_MASK)
    builder.jump('eq', SOCK_RAW, denyLabel, 0)
  }
  builder.ret(SECCOMP_RET.ALLOW)
  builder.mark(netlink)
  builder.loadAbsolute(SECCOMP_DATA.argLow(2))
  builder.jump('eq', NETLINK_ROUTE, 0, denyLabel)
  builder.ret(SECCOMP_RET.ALLOW)
}
