// Turns raw fields into a typed Profile: resolves `extends`, applies the
// defaults and runs the checks that span several fields.

import { DEFAULTS } from '../defaults.js'
import type { EnforceMode, NetworkMode } from '../launch-spec.js'
import type { FileAccessRule, ListenSocket, Profile, SyscallRule, WritablePath } from '../profile.js'
import { DEFAULT_DENIED_SYSCALLS, LAUNCHER_SYSCALLS, OPT_IN_SYSCALLS } from '../seccomp/syscall-sets.js'
import { didYouMean } from '../suggest.js'
import type { Loc, ParseContext } from './context.js'
import type { RawField, RawFields } from './profile-fields.js'
import { isSameOrUnder, resolveVarRun } from './values.js'

export interface RawProfile {
  name: string
  loc: Loc
  fields: RawFields
}

/**
 * Merges each profile with its `extends` chain, parent first, so the child's
 * fields replace the parent's one by one (lists are replaced, not appended).
 * Returns null for a profile whose chain is broken; the error is reported.
 */
export function resolveExtends(ctx: ParseContext, raws: Map<string, RawProfile>): Map<string, RawFields | null> {
  const resolved = new Map<string, RawFields | null>()
  const resolve = (name: string, chain: string[]): RawFields | null => {
    if (resolved.has(name)) return resolved.get(name) ?? null
    const raw = raws.get(name)
    if (raw === undefined) return null
    const parentField = raw.fields.get('extends')
    if (parentField === undefined) {
      resolved.set(name, raw.fields)
      return raw.fields
    }
    const parentName = parentField.value as string
    let merged: RawFields | null = null
    if (!raws.has(parentName)) {
      ctx.error(parentField.loc, `extends unknown profile "${parentName}"${didYouMean(parentName, raws.keys())}`)
    } else if (chain.includes(parentName)) {
      const cycle = [...chain.slice(chain.indexOf(parentName)), parentName]
      ctx.error(parentField.loc, `extends cycle: ${cycle.join(' -> ')}`)
    } else {
      const parent = resolve(parentName, [...chain, parentName])
      if (parent !== null) merged = new Map([...parent, ...raw.fields])
    }
    resolved.set(name, merged)
    return merged
  }
  for (const name of raws.keys()) resolve(name, [name])
  return resolved
}

function value<T>(fields: RawFields, key: string, fallback: T): T {
  const field = fields.get(key)
  return field === undefined ? fallback : (field.value as T)
}

/** Builds the typed profile with defaults for every missing field. */
export function buildProfile(name: string, fields: RawFields): Profile {
  const maxMemory = value<number>(fields, 'resource_limits.max_memory', DEFAULTS.maxMemory)
  return {
    name,
    extends: value<string | null>(fields, 'extends', null),
    user: value<string | null>(fields, 'user', null),
    group: value<string | null>(fields, 'group', null),
    enforceMode: value<EnforceMode>(fields, 'enforce_mode', DEFAULTS.enforceMode),
    capabilities: [...new Set(value<string[]>(fields, 'capabilities', []))].sort(),
    syscalls: {
      allowed: value<SyscallRule[]>(fields, 'syscalls.allowed', []),
      denied: value<SyscallRule[]>(fields, 'syscalls.denied', []),
    },
    filesystem: {
      readOnlyRoot: value<boolean>(fields, 'filesystem.read_only_root', DEFAULTS.readOnlyRoot),
      writablePaths: value<WritablePath[]>(fields, 'filesystem.writable_paths', []),
      dataPaths: value<string[]>(fields, 'filesystem.data_paths', []),
      fileAccess: value<FileAccessRule[]>(fields, 'filesystem.file_access', []),
      deniedPaths: value<string[]>(fields, 'filesystem.denied_paths', []),
    },
    network: {
      mode: value<NetworkMode>(fields, 'network.mode', DEFAULTS.networkMode),
      allowLocalhost: value<boolean>(fields, 'network.allow_localhost', DEFAULTS.allowLocalhost),
      allowUnixSockets: value<boolean>(fields, 'network.allow_unix_sockets', DEFAULTS.allowUnixSockets),
      allowedPorts: value<number[]>(fields, 'network.allowed_ports', []),
      outbound: value<string[]>(fields, 'network.outbound', []),
      listen: value<ListenSocket[]>(fields, 'network.listen', []),
    },
    resourceLimits: {
      maxMemory: maxMemory === Number.POSITIVE_INFINITY ? null : maxMemory,
      maxCpu: value<number | null>(fields, 'resource_limits.max_cpu', DEFAULTS.maxCpu),
      maxFileDescriptors: value<number>(fields, 'resource_limits.max_file_descriptors', DEFAULTS.maxFileDescriptors),
      maxProcesses: value<number>(fields, 'resource_limits.max_processes', DEFAULTS.maxProcesses),
      maxTmpfs: value<number | null>(fields, 'resource_limits.max_tmpfs', DEFAULTS.maxTmpfs),
    },
    environment: {
      allow: value<string[]>(fields, 'environment.allow', []),
      set: value<Record<string, string>>(fields, 'environment.set', {}),
    },
  }
}

function itemLoc(field: RawField | undefined, index: number): Loc {
  return field?.itemLocs[index] ?? field?.loc ?? { path: '', offset: 0 }
}

/** Checks that span fields: syscalls allowed and denied, writable and denied paths. */
export function checkProfile(ctx: ParseContext, profile: Profile, fields: RawFields): void {
  checkSyscalls(ctx, profile, fields)
  checkPaths(ctx, profile, fields)
}

function checkSyscalls(ctx: ParseContext, profile: Profile, fields: RawFields): void {
  const allowedField = fields.get('syscalls.allowed')
  const deniedField = fields.get('syscalls.denied')
  const denied = new Set(profile.syscalls.denied.map((rule) => rule.name))
  profile.syscalls.allowed.forEach((rule, index) => {
    const loc = itemLoc(allowedField, index)
    if (denied.has(rule.name)) {
      const deniedIndex = profile.syscalls.denied.findIndex((d) => d.name === rule.name)
      ctx.error(loc, `syscall "${rule.name}" is both allowed and denied (see ${itemLoc(deniedField, deniedIndex).path}); keep it in one list`)
    } else if (DEFAULT_DENIED_SYSCALLS.includes(rule.name) && !OPT_IN_SYSCALLS.includes(rule.name)) {
      ctx.error(loc, `syscall "${rule.name}" is denied in every profile and cannot be allowed; only ${OPT_IN_SYSCALLS.join(', ')} can be opted into`)
    }
    if (rule.errno !== null) ctx.error(loc, `syscall "${rule.name}" is allowed, so errno ${rule.errno} has no effect; remove it`)
  })
  profile.syscalls.denied.forEach((rule, index) => {
    if (LAUNCHER_SYSCALLS.includes(rule.name)) {
      ctx.error(itemLoc(deniedField, index), `syscall "${rule.name}" cannot be denied: the launcher calls it after installing the seccomp filter (${LAUNCHER_SYSCALLS.join(', ')}); remove it from the list`)
    }
  })
}

/** Trees the sandbox replaces with its own mounts, so the host's entries there do not exist inside. */
const PRIVATE_TREES = ['/proc', '/dev', '/tmp', '/var/tmp', '/run']

function checkPaths(ctx: ParseContext, profile: Profile, fields: RawFields): void {
  const deniedField = fields.get('filesystem.denied_paths')
  profile.filesystem.deniedPaths.forEach((denied, index) => {
    const tree = PRIVATE_TREES.find((dir) => isSameOrUnder(resolveVarRun(denied), dir))
    if (tree !== undefined) {
      ctx.error(itemLoc(deniedField, index), `denied path "${denied}" is inside ${tree}, which the sandbox replaces with its own mount; only paths on the host root can be denied`)
    }
  })
  const writable = [
    ...profile.filesystem.writablePaths.map((w, i) => ({ path: w.path, loc: itemLoc(fields.get('filesystem.writable_paths'), i) })),
    ...profile.filesystem.dataPaths.map((path, i) => ({ path, loc: itemLoc(fields.get('filesystem.data_paths'), i) })),
  ]
  const writableSet = new Set(profile.filesystem.writablePaths.map((w) => resolveVarRun(w.path)))
  profile.filesystem.dataPaths.forEach((path, index) => {
    if (writableSet.has(resolveVarRun(path))) {
      ctx.error(itemLoc(fields.get('filesystem.data_paths'), index), `data path "${path}" is also a writable path; list it once (data paths are writable and persistent)`)
    }
  })
  profile.filesystem.deniedPaths.forEach((denied, deniedIndex) => {
    const deniedResolved = resolveVarRun(denied)
    for (const w of writable) {
      const resolved = resolveVarRun(w.path)
      if (isSameOrUnder(resolved, deniedResolved)) {
        const relation = resolved === deniedResolved ? 'also denied' : `inside denied path "${denied}"`
        ctx.error(w.loc, `writable path "${w.path}" is ${relation}; remove one of them`)
      } else if (isSameOrUnder(deniedResolved, resolved)) {
        // Landlock can only add rights beneath a path, so nothing can be denied inside a writable tree.
        ctx.error(itemLoc(deniedField, deniedIndex), `denied path "${denied}" is inside writable path "${w.path}", where it cannot be enforced; remove one of them`)
      }
    }
  })
}
