// Reads one entry under `security_profiles` into raw fields. Only fields
// written in the YAML are present, so `extends` can merge parent and child
// field by field before defaults apply.

import type { Node } from 'yaml'
import type { FileAccessMode, FileAccessRule, ListenSocket, SyscallRule, WritablePath } from '../profile.js'
import { canonicalCapability, CAPABILITIES } from '../tables/capabilities.js'
import { ERRNO } from '../tables/errno.js'
import { KNOWN_SYSCALL_NAMES } from '../seccomp/syscall-sets.js'
import { parseSize } from '../size.js'
import { didYouMean } from '../suggest.js'
import {
  type Loc,
  type ParseContext,
  describeNode,
  readBoolean,
  readEnum,
  readInteger,
  readList,
  readMap,
  readScalar,
  readString,
} from './context.js'
import {
  checkEnvName,
  checkEnvValue,
  checkListenName,
  checkPath,
  checkWritablePath,
  defaultListenName,
  parseCidr,
  parseListen,
} from './values.js'
import { isMap, isScalar } from 'yaml'

/** A field value with the location of the field and of each list item. */
export interface RawField {
  value: unknown
  loc: Loc
  itemLocs: Loc[]
}

/** Fields keyed by `section.key` (`network.allowed_ports`) or top-level key (`user`). */
export type RawFields = Map<string, RawField>

export const PROFILE_KEYS = [
  'user', 'group', 'extends', 'enforce_mode', 'capabilities', 'syscalls', 'filesystem', 'network', 'resource_limits', 'environment',
] as const

const SECTION_KEYS: Record<string, readonly string[]> = {
  syscalls: ['allowed', 'denied'],
  filesystem: ['read_only_root', 'writable_paths', 'data_paths', 'file_access', 'denied_paths'],
  network: ['mode', 'allow_localhost', 'allow_unix_sockets', 'allowed_ports', 'outbound', 'listen'],
  resource_limits: ['max_memory', 'max_cpu', 'max_file_descriptors', 'max_processes', 'max_tmpfs'],
  environment: ['allow', 'set'],
}

const FILE_ACCESS_MODES: readonly FileAccessMode[] = ['r', 'w', 'rw', 'x', 'rx', 'rwx']
const ACCOUNT_NAME = /^[a-z_][a-z0-9_-]{0,31}\$?$/

type ItemReader<T> = (ctx: ParseContext, node: Node | null, loc: Loc) => T | null

/** Reads a profile map into raw fields; every problem is reported to ctx. */
export function readProfileFields(ctx: ParseContext, node: Node | null, loc: Loc): RawFields {
  const fields: RawFields = new Map()
  const entries = readMap(ctx, node, loc, 'a profile', PROFILE_KEYS)
  for (const entry of entries ?? []) {
    const set = (value: unknown, itemLocs: Loc[] = []) => fields.set(entry.key, { value, loc: entry.valueLoc, itemLocs })
    switch (entry.key) {
      case 'user':
      case 'group': {
        const name = readString(ctx, entry.value, entry.valueLoc, 'an account name')
        if (name !== null && !ACCOUNT_NAME.test(name)) {
          ctx.error(entry.valueLoc, `invalid ${entry.key} name "${name}"; expected lower-case letters, digits, _ or -, at most 32 characters`)
        } else if (name === 'root') {
          ctx.error(entry.valueLoc, `${entry.key} root is not allowed: a sandboxed service never runs with id 0; name an unprivileged account, or leave ${entry.key} out for a dynamic one`)
        } else if (name !== null) set(name)
        break
      }
      case 'extends': {
        const name = readString(ctx, entry.value, entry.valueLoc, 'a profile name')
        if (name !== null) set(name)
        break
      }
      case 'enforce_mode': {
        const mode = readEnum(ctx, entry.value, entry.valueLoc, ['enforce', 'permissive', 'disabled'] as const)
        if (mode !== null) set(mode)
        break
      }
      case 'capabilities':
        readListField(ctx, entry.value, entry.valueLoc, 'capability names', readCapability, (v, l) => set(v, l))
        break
      default:
        readSection(ctx, entry.key, entry.value, entry.valueLoc, fields)
    }
  }
  return fields
}

function readSection(ctx: ParseContext, section: string, node: Node | null, loc: Loc, fields: RawFields): void {
  // An empty section (`network:` with nothing under it) means the defaults.
  if (node === null || (isScalar(node) && node.value === null)) return
  const entries = readMap(ctx, node, loc, `the ${section} section`, SECTION_KEYS[section] ?? [])
  for (const entry of entries ?? []) {
    const key = `${section}.${entry.key}`
    const set = (value: unknown, itemLocs: Loc[] = []) => fields.set(key, { value, loc: entry.valueLoc, itemLocs })
    const value = readSectionValue(ctx, key, entry.value, entry.valueLoc, set)
    if (value !== undefined && value !== null) set(value)
  }
}

/** Reads one section field; list fields call `set` themselves, scalar fields return their value. */
function readSectionValue(
  ctx: ParseContext,
  key: string,
  node: Node | null,
  loc: Loc,
  set: (value: unknown, itemLocs: Loc[]) => void,
): unknown {
  switch (key) {
    case 'syscalls.allowed':
    case 'syscalls.denied':
      return readListField(ctx, node, loc, 'syscall names', readSyscallRule, set)
    case 'filesystem.read_only_root':
    case 'network.allow_localhost':
    case 'network.allow_unix_sockets':
      return readBoolean(ctx, node, loc)
    case 'filesystem.writable_paths':
      return readListField(ctx, node, loc, 'paths', readWritablePath, set)
    case 'filesystem.data_paths':
      return readListField(ctx, node, loc, 'paths', readDataPath, set)
    case 'filesystem.denied_paths':
      return readListField(ctx, node, loc, 'paths', readPath, set)
    case 'filesystem.file_access':
      return readListField(ctx, node, loc, '{path, mode} entries', readFileAccess, set)
    case 'network.mode':
      return readEnum(ctx, node, loc, ['none', 'veth', 'host'] as const)
    case 'network.allowed_ports':
      return readListField(ctx, node, loc, 'ports', (c, n, l) => readInteger(c, n, l, 1, 65535), set)
    case 'network.outbound':
      return readListField(ctx, node, loc, 'addresses or CIDRs', readCidr, set)
    case 'network.listen':
      return readListField(ctx, node, loc, 'listen sockets', readListenSocket, set)
    case 'resource_limits.max_memory':
      return readMemory(ctx, node, loc)
    case 'resource_limits.max_tmpfs':
      return readSize(ctx, node, loc)
    case 'resource_limits.max_cpu':
      return readCpu(ctx, node, loc)
    case 'resource_limits.max_file_descriptors':
      return readInteger(ctx, node, loc, 1, 1048576)
    case 'resource_limits.max_processes':
      return readInteger(ctx, node, loc, 1, 4194304)
    case 'environment.allow':
      return readListField(ctx, node, loc, 'environment variable names', readEnvName, set)
    case 'environment.set': {
      const env = readEnvironmentMap(ctx, node, loc)
      if (env !== null) set(env, [])
      return undefined
    }
  }
  return undefined
}

/**
 * Reads a list whose items all pass `readItem`, reports duplicates, and
 * calls `set` only when every item is valid, so a half-read list never
 * replaces the whole.
 */
function readListField<T>(
  ctx: ParseContext,
  node: Node | null,
  loc: Loc,
  what: string,
  readItem: ItemReader<T>,
  set: (value: T[], itemLocs: Loc[]) => void,
): undefined {
  const items = readList(ctx, node, loc, what)
  if (items === null) return undefined
  const values: T[] = []
  const locs: Loc[] = []
  const seen = new Set<string>()
  let valid = true
  for (const item of items) {
    const value = readItem(ctx, item.node, item.loc)
    if (value === null) {
      valid = false
      continue
    }
    const identity = JSON.stringify(listItemKey(value))
    if (seen.has(identity)) {
      ctx.error(item.loc, `${JSON.stringify(listItemKey(value))} is listed twice`)
      valid = false
      continue
    }
    seen.add(identity)
    values.push(value)
    locs.push(item.loc)
  }
  if (valid) set(values, locs)
  return undefined
}

/** The part of a list item that must be unique: the name, path or port. */
function listItemKey(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value
  const record = value as Record<string, unknown>
  return record['name'] ?? record['path'] ?? record['port'] ?? value
}

function readCapability(ctx: ParseContext, node: Node | null, loc: Loc): string | null {
  const name = readString(ctx, node, loc, 'a capability name')
  if (name === null) return null
  const canonical = canonicalCapability(name)
  if (canonical === null) {
    const upper = name.toUpperCase()
    ctx.error(loc, `unknown capability "${name}"${didYouMean(upper.startsWith('CAP_') ? upper : `CAP_${upper}`, Object.keys(CAPABILITIES))}`)
  }
  return canonical
}

function readSyscallRule(ctx: ParseContext, node: Node | null, loc: Loc): SyscallRule | null {
  if (isMap(node)) {
    const entries = readMap(ctx, node, loc, 'a syscall rule', ['name', 'errno'])
    let name: string | null = null
    let errno: string | null = null
    let valid = entries !== null
    for (const entry of entries ?? []) {
      if (entry.key === 'name') name = readSyscallName(ctx, entry.value, entry.valueLoc)
      if (entry.key === 'errno') errno = readErrno(ctx, entry.value, entry.valueLoc)
      if ((entry.key === 'name' && name === null) || (entry.key === 'errno' && errno === null)) valid = false
    }
    if (valid && name === null) ctx.error(loc, 'missing key "name" in syscall rule')
    return valid && name !== null ? { name, errno } : null
  }
  const name = readSyscallName(ctx, node, loc)
  return name === null ? null : { name, errno: null }
}

function readSyscallName(ctx: ParseContext, node: Node | null, loc: Loc): string | null {
  const name = readString(ctx, node, loc, 'a syscall name or {name, errno}')
  if (name === null) return null
  if (!KNOWN_SYSCALL_NAMES.has(name)) {
    ctx.error(loc, `unknown syscall "${name}" (not in the x86_64 or aarch64 table)${didYouMean(name, KNOWN_SYSCALL_NAMES)}`)
    return null
  }
  return name
}

function readErrno(ctx: ParseContext, node: Node | null, loc: Loc): string | null {
  const name = readString(ctx, node, loc, 'an errno name such as EPERM')
  if (name === null) return null
  if (!Object.hasOwn(ERRNO, name)) {
    ctx.error(loc, `unknown errno "${name}"${didYouMean(name, Object.keys(ERRNO))}`)
    return null
  }
  return name
}

function readPath(ctx: ParseContext, node: Node | null, loc: Loc): string | null {
  const path = readString(ctx, node, loc, 'an absolute path')
  if (path === null) return null
  const error = checkPath(path)
  if (error !== null) {
    ctx.error(loc, error)
    return null
  }
  return path
}

function readWritableOnly(ctx: ParseContext, node: Node | null, loc: Loc): string | null {
  const path = readPath(ctx, node, loc)
  if (path === null) return null
  const error = checkWritablePath(path)
  if (error !== null) {
    ctx.error(loc, error)
    return null
  }
  return path
}

function readWritablePath(ctx: ParseContext, node: Node | null, loc: Loc): WritablePath | null {
  if (!isMap(node)) {
    const path = readWritableOnly(ctx, node, loc)
    return path === null ? null : { path, sizeBytes: null }
  }
  const entries = readMap(ctx, node, loc, 'a writable path', ['path', 'size'])
  let path: string | null = null
  let sizeBytes: number | null = null
  let valid = entries !== null
  for (const entry of entries ?? []) {
    if (entry.key === 'path') {
      path = readWritableOnly(ctx, entry.value, entry.valueLoc)
      valid &&= path !== null
    } else {
      sizeBytes = readSize(ctx, entry.value, entry.valueLoc)
      valid &&= sizeBytes !== null
    }
  }
  if (valid && path === null) ctx.error(loc, 'missing key "path" in writable path')
  return valid && path !== null ? { path, sizeBytes } : null
}

function readDataPath(ctx: ParseContext, node: Node | null, loc: Loc): string | null {
  return readWritableOnly(ctx, node, loc)
}

function readFileAccess(ctx: ParseContext, node: Node | null, loc: Loc): FileAccessRule | null {
  const entries = readMap(ctx, node, loc, 'a file access rule {path, mode}', ['path', 'mode'])
  if (entries === null) return null
  let path: string | null = null
  let mode: FileAccessMode | null = null
  let valid = true
  for (const entry of entries) {
    if (entry.key === 'path') path = readPath(ctx, entry.value, entry.valueLoc)
    else mode = readEnum(ctx, entry.value, entry.valueLoc, FILE_ACCESS_MODES)
    valid &&= (entry.key === 'path' ? path : mode) !== null
  }
  if (!valid) return null
  if (path === null || mode === null) {
    ctx.error(loc, `missing key "${path === null ? 'path' : 'mode'}" in file access rule`)
    return null
  }
  return { path, mode }
}

function readCidr(ctx: ParseContext, node: Node | null, loc: Loc): string | null {
  const text = readString(ctx, node, loc, 'an IP address or CIDR')
  if (text === null) return null
  const parsed = parseCidr(text)
  if ('error' in parsed) {
    ctx.error(loc, parsed.error)
    return null
  }
  return parsed.cidr
}

function readListenSocket(ctx: ParseContext, node: Node | null, loc: Loc): ListenSocket | null {
  let socketNode = node
  let socketLoc = loc
  let name: string | null = null
  if (isMap(node)) {
    const entries = readMap(ctx, node, loc, 'a listen socket {socket, name}', ['socket', 'name'])
    if (entries === null) return null
    socketNode = null
    for (const entry of entries) {
      if (entry.key === 'socket') {
        socketNode = entry.value
        socketLoc = entry.valueLoc
        continue
      }
      name = readString(ctx, entry.value, entry.valueLoc, 'a socket name')
      const nameError = name === null ? null : checkListenName(name)
      if (nameError !== null) ctx.error(entry.valueLoc, nameError)
      if (name === null || nameError !== null) return null
    }
    if (socketNode === null) {
      ctx.error(loc, 'missing key "socket" in listen socket')
      return null
    }
  }
  const text = readString(ctx, socketNode, socketLoc, 'a listen socket such as tcp:8080 or unix:/run/app.sock')
  if (text === null) return null
  const parsed = parseListen(text)
  if ('error' in parsed) {
    ctx.error(socketLoc, parsed.error)
    return null
  }
  const socketName = name ?? defaultListenName(parsed)
  return parsed.kind === 'tcp'
    ? { kind: 'tcp', port: parsed.port, host: parsed.host, name: socketName }
    : { kind: 'unix', path: parsed.path, name: socketName }
}

function readSize(ctx: ParseContext, node: Node | null, loc: Loc): number | null {
  const value = readScalar(ctx, node, loc, 'a size such as 512MiB')
  if (value === null) return null
  const parsed = parseSize(value)
  if (!parsed.ok) {
    ctx.error(loc, parsed.message)
    return null
  }
  return parsed.bytes
}

/** Reads max_memory: a size, or `unlimited` for no limit (stored as Infinity until defaults apply). */
function readMemory(ctx: ParseContext, node: Node | null, loc: Loc): number | null {
  if (isScalar(node) && node.value === 'unlimited') return Number.POSITIVE_INFINITY
  return readSize(ctx, node, loc)
}

/** Reads max_cpu as CPUs (0.5) or a percentage of one CPU (`50%`). */
function readCpu(ctx: ParseContext, node: Node | null, loc: Loc): number | null {
  const expected = 'expected a number of CPUs greater than 0 (such as 0.5) or a percentage of one CPU (such as 50%)'
  const value = readScalar(ctx, node, loc, 'a number of CPUs or a percentage')
  if (value === null) return null
  let cpus = Number.NaN
  if (typeof value === 'number') cpus = value
  else if (/^\d+(\.\d+)?%$/.test(value.trim())) cpus = Number(value.trim().slice(0, -1)) / 100
  if (!Number.isFinite(cpus) || cpus <= 0 || cpus > 4096) {
    ctx.error(loc, `invalid max_cpu ${typeof value === 'string' ? `"${value}"` : value}; ${expected}`)
    return null
  }
  return cpus
}

function readEnvName(ctx: ParseContext, node: Node | null, loc: Loc): string | null {
  const name = readString(ctx, node, loc, 'an environment variable name')
  if (name === null) return null
  const error = checkEnvName(name)
  if (error !== null) {
    ctx.error(loc, error)
    return null
  }
  return name
}

/** Reads a map of fixed environment values; used by profiles and services. */
export function readEnvironmentMap(ctx: ParseContext, node: Node | null, loc: Loc): Record<string, string> | null {
  const entries = readMap(ctx, node, loc, 'environment variables', null)
  if (entries === null) return null
  const env: Record<string, string> = {}
  let valid = true
  for (const entry of entries) {
    const nameError = checkEnvName(entry.key)
    if (nameError !== null) {
      ctx.error(entry.keyLoc, nameError)
      valid = false
      continue
    }
    const value = entry.value
    // Numbers and booleans are common in YAML (`PORT: 8080`); they become strings.
    const scalar = isScalar(value) ? value.value : undefined
    if (typeof scalar !== 'string' && typeof scalar !== 'number' && typeof scalar !== 'boolean') {
      ctx.error(entry.valueLoc, `expected a string value for "${entry.key}", got ${describeNode(value)}`)
      valid = false
      continue
    }
    const text = typeof scalar === 'string' ? scalar : String(scalar)
    const valueError = checkEnvValue(entry.key, text)
    if (valueError !== null) {
      ctx.error(entry.valueLoc, valueError)
      valid = false
      continue
    }
    env[entry.key] = text
  }
  return valid ? env : null
}
