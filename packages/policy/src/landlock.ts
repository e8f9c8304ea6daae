// Compiles a profile's filesystem and TCP rules into a Landlock ruleset.
//
// Landlock denies every handled access unless a rule grants it beneath a
// path, and rules can only add rights. The ruleset therefore:
//  - grants read and execute on `/`, so a profile without file_access rules
//    still runs (the read-only root mount already stops writes);
//  - grants every right beneath each writable and data path;
//  - grants write, truncate and device ioctls beneath /dev, whose minimal
//    tmpfs holds only null, zero, full, random, urandom, tty, pts and shm;
//  - adds the file_access rules.
// A denied path cannot be carved out of the read rule on `/`. Instead the
// read rule goes on the siblings along the way: for a denied /etc/secret,
// every entry of / except /etc and every entry of /etc except /etc/secret.
// Limits of that approach: the parent directories themselves (/ and /etc
// here) cannot be listed, entries created in them after launch are not
// readable, and the listing is taken on the host when the profile is
// compiled. Symlinks are followed, so a link elsewhere into a denied tree
// does not grant it.

import { readdirSync, realpathSync, statSync } from 'node:fs'
import { PolicyCompileError } from './errors.js'
import type { LandlockSpec } from './launch-spec.js'
import { isSameOrUnder, resolveVarRun } from './parse/values.js'
import type { FileAccessMode, Profile } from './profile.js'

/** LANDLOCK_ACCESS_FS_* from linux/landlock.h, with the ABI that introduced each. */
export const LANDLOCK_ACCESS_FS = {
  EXECUTE: 1 << 0,
  WRITE_FILE: 1 << 1,
  READ_FILE: 1 << 2,
  READ_DIR: 1 << 3,
  REMOVE_DIR: 1 << 4,
  REMOVE_FILE: 1 << 5,
  MAKE_CHAR: 1 << 6,
  MAKE_DIR: 1 << 7,
  MAKE_REG: 1 << 8,
  MAKE_SOCK: 1 << 9,
  MAKE_FIFO: 1 << 10,
  MAKE_BLOCK: 1 << 11,
  MAKE_SYM: 1 << 12,
  /** ABI 2. */
  REFER: 1 << 13,
  /** ABI 3. */
  TRUNCATE: 1 << 14,
  /** ABI 5. */
  IOCTL_DEV: 1 << 15,
} as const

/** LANDLOCK_ACCESS_NET_* (ABI 4). */
export const LANDLOCK_ACCESS_NET = { BIND_TCP: 1 << 0, CONNECT_TCP: 1 << 1 } as const

/** LANDLOCK_SCOPE_* (ABI 6). */
export const LANDLOCK_SCOPE = { ABSTRACT_UNIX_SOCKET: 1 << 0, SIGNAL: 1 << 1 } as const

/** landlock_restrict_self flags (ABI 7). */
export const LANDLOCK_RESTRICT_SELF = { LOG_SAME_EXEC_OFF: 1 << 0, LOG_NEW_EXEC_ON: 1 << 1, LOG_SUBDOMAINS_OFF: 1 << 2 } as const

/** The newest ABI this compiler supports; a newer kernel is used at this level. */
export const LANDLOCK_MAX_ABI = 7

const FS = LANDLOCK_ACCESS_FS

/** Rights that apply to a regular file; a rule on a file may hold only these. */
export const LANDLOCK_FILE_RIGHTS = FS.EXECUTE | FS.WRITE_FILE | FS.READ_FILE | FS.TRUNCATE | FS.IOCTL_DEV

/** Returns every filesystem right defined at the given ABI. */
export function landlockFsRights(abi: number): number {
  if (abi < 1) return 0
  let rights = (1 << 13) - 1
  if (abi >= 2) rights |= FS.REFER
  if (abi >= 3) rights |= FS.TRUNCATE
  if (abi >= 5) rights |= FS.IOCTL_DEV
  return rights
}

const MAKE_AND_REMOVE = FS.REMOVE_DIR | FS.REMOVE_FILE | FS.MAKE_CHAR | FS.MAKE_DIR | FS.MAKE_REG
  | FS.MAKE_SOCK | FS.MAKE_FIFO | FS.MAKE_BLOCK | FS.MAKE_SYM

const MODE_RIGHTS: Record<'r' | 'w' | 'x', number> = {
  r: FS.READ_FILE | FS.READ_DIR,
  w: FS.WRITE_FILE | FS.TRUNCATE | MAKE_AND_REMOVE | FS.REFER,
  x: FS.EXECUTE,
}

export function fileAccessRights(mode: FileAccessMode): number {
  let rights = 0
  for (const letter of mode) rights |= MODE_RIGHTS[letter as 'r' | 'w' | 'x']
  return rights
}

/** Read access to the host filesystem, replaceable in tests. */
export interface FilesystemView {
  /** 'missing' when the path does not exist; symlinks are followed. */
  kind(path: string): 'dir' | 'file' | 'missing'
  /** Entry names of a directory; an empty list when it cannot be read. */
  list(path: string): string[]
  /** The path with every symlink resolved, or the path itself when it does not exist. */
  realpath(path: string): string
}

export const hostFilesystem: FilesystemView = {
  kind(path) {
    try {
      return statSync(path).isDirectory() ? 'dir' : 'file'
    } catch {
      return 'missing'
    }
  },
  list(path) {
    try {
      return readdirSync(path).sort()
    } catch {
      return []
    }
  },
  realpath(path) {
    try {
      return realpathSync(path)
    } catch {
      return path
    }
  },
}

/** Trees the sandbox replaces with its own mounts, so host entries beneath them may not exist inside. */
const SANDBOX_PRIVATE_TREES = ['/proc', '/dev', '/tmp', '/var/tmp', '/run']

/** Upper bound on path rules, so a denied path in a huge directory fails loudly instead of slowly. */
export const LANDLOCK_MAX_RULES = 10000

export interface CompiledLandlock {
  spec: LandlockSpec | null
  warnings: string[]
}

/** Returns the lowest ABI that defines every bit in the spec. */
function requiredAbi(spec: Omit<LandlockSpec, 'minAbi'>): number {
  let abi = 1
  if (spec.handledAccessFs & FS.REFER) abi = 2
  if (spec.handledAccessFs & FS.TRUNCATE) abi = 3
  if (spec.handledAccessNet !== 0) abi = Math.max(abi, 4)
  if (spec.handledAccessFs & FS.IOCTL_DEV) abi = Math.max(abi, 5)
  if (spec.scoped !== 0) abi = Math.max(abi, 6)
  if (spec.restrictFlags !== 0) abi = Math.max(abi, 7)
  return abi
}

/**
 * Builds the Landlock ruleset for a kernel with Landlock ABI `hostAbi` (0
 * when Landlock is unavailable). When the kernel lacks a feature the rules
 * need, enforce mode throws PolicyCompileError and permissive mode drops
 * those rules with a warning. Landlock has no log-only mode, so permissive
 * profiles are restricted too; disabled profiles get no ruleset.
 */
export function compileLandlock(profile: Profile, hostAbi: number, fs: FilesystemView = hostFilesystem): CompiledLandlock {
  const warnings: string[] = []
  if (profile.enforceMode === 'disabled') return { spec: null, warnings }
  const missing = (feature: string, needed: number): void => {
    const message = `landlock: ${feature} need Landlock ABI ${needed}, this kernel has ${hostAbi}`
    if (profile.enforceMode === 'enforce') throw new PolicyCompileError('LANDLOCK_ABI', message)
    warnings.push(`${message}; permissive mode continues without them`)
  }
  if (hostAbi < 1) {
    missing('filesystem rules', 1)
    return { spec: null, warnings }
  }
  const abi = Math.min(hostAbi, LANDLOCK_MAX_ABI)
  const handledAccessFs = landlockFsRights(abi)

  const ports = profile.network.allowedPorts
  const wantsNet = profile.network.mode !== 'host' || ports.length > 0
  let handledAccessNet = 0
  let netRules: LandlockSpec['netRules'] = []
  if (wantsNet && abi < 4) {
    missing('TCP port rules', 4)
  } else if (wantsNet) {
    handledAccessNet = LANDLOCK_ACCESS_NET.BIND_TCP | LANDLOCK_ACCESS_NET.CONNECT_TCP
    netRules = ports.map((port) => ({ port, access: handledAccessNet }))
  }

  let scoped = 0
  if (abi >= 6) scoped = LANDLOCK_SCOPE.SIGNAL | (profile.network.allowUnixSockets ? 0 : LANDLOCK_SCOPE.ABSTRACT_UNIX_SOCKET)
  // Log denials that happen after execve too: those are the service's own, the ones worth reporting.
  const restrictFlags = abi >= 7 ? LANDLOCK_RESTRICT_SELF.LOG_NEW_EXEC_ON : 0

  const pathRules = buildPathRules(profile, handledAccessFs, fs)
  const partial = { handledAccessFs, handledAccessNet, scoped, pathRules, netRules, restrictFlags }
  return { spec: { minAbi: requiredAbi(partial), ...partial }, warnings }
}

function buildPathRules(profile: Profile, handled: number, fs: FilesystemView): LandlockSpec['pathRules'] {
  const rules = new Map<string, number>()
  const kinds = new Map<string, 'dir' | 'file' | 'missing'>()
  const add = (path: string, access: number) => {
    if (rules.size >= LANDLOCK_MAX_RULES && !rules.has(path)) {
      throw new PolicyCompileError('LANDLOCK_RULES', `landlock: more than ${LANDLOCK_MAX_RULES} path rules; a denied path sits in a directory with too many entries`)
    }
    const kind = kinds.get(path) ?? fs.kind(path)
    kinds.set(path, kind)
    // The kernel rejects directory rights on a file rule. A path missing on the
    // host is treated as a directory because it is usually a mount point the launcher creates.
    const mask = kind === 'file' ? LANDLOCK_FILE_RIGHTS : -1
    rules.set(path, ((rules.get(path) ?? 0) | access) & mask & handled)
  }

  const denied = new Set<string>()
  for (const path of profile.filesystem.deniedPaths) {
    const resolved = resolveVarRun(path)
    denied.add(resolved)
    denied.add(fs.realpath(resolved))
  }
  const isDenied = (path: string) => [...denied].some((d) => isSameOrUnder(path, d))
  const hasDeniedBeneath = (path: string) => [...denied].some((d) => d !== path && isSameOrUnder(d, path))

  const read = FS.READ_FILE | FS.READ_DIR | FS.EXECUTE
  const grantRead = (path: string, depth: number): void => {
    const real = fs.realpath(path)
    if (isDenied(path) || isDenied(real)) return
    // A link into a tree the sandbox mounts privately (/var/lock -> /run/lock)
    // may have no target inside, and the launcher fails on a missing rule
    // path. The private tree gets its own rule as an entry of `/`.
    if (real !== path && SANDBOX_PRIVATE_TREES.some((tree) => isSameOrUnder(real, tree))) return
    if (!hasDeniedBeneath(path) && !hasDeniedBeneath(real)) {
      add(path, read)
      return
    }
    if (depth > 64 || fs.kind(real) !== 'dir') return
    for (const entry of fs.list(real)) grantRead(real === '/' ? `/${entry}` : `${real}/${entry}`, depth + 1)
  }
  grantRead('/', 0)

  if (!isDenied('/dev')) {
    add('/dev', read | FS.WRITE_FILE | FS.TRUNCATE | FS.IOCTL_DEV)
    add('/dev/shm', handled)
  }
  for (const writable of profile.filesystem.writablePaths) add(resolveVarRun(writable.path), handled)
  for (const path of profile.filesystem.dataPaths) add(resolveVarRun(path), handled)
  for (const rule of profile.filesystem.fileAccess) add(resolveVarRun(rule.path), fileAccessRights(rule.mode))
  return [...rules].filter(([, access]) => access !== 0).map(([path, access]) => ({ path, access }))
}
