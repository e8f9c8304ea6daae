// Builds a profile proposal from what a learn session saw: the current
// profile's YAML with the smallest additions that would have let the
// service do it, as a unified diff, validated by the policy parser.

import { dirname } from 'node:path'
import { DEFAULT_DENIED_SYSCALLS, OPT_IN_SYSCALLS, type FileAccessMode, type Profile } from '@blackhole/policy'
import { isMap, isScalar, isSeq, parseDocument, type Document, type YAMLMap, type YAMLSeq } from 'yaml'
import { validateProfileYaml } from '../server/routes/profile-yaml.js'
import type { LearnedActivity, ObservedPath } from './activity.js'
import { unifiedDiff } from './unified-diff.js'

/** A learned item the proposal leaves out, and why. */
export interface NotProposed {
  kind: 'syscall' | 'path' | 'port'
  value: string
  reason: string
}

/** The changes a proposal makes, section by section. */
export interface ProfileAdditions {
  /** Opt-in syscalls added to syscalls.allowed. */
  allowedSyscalls: string[]
  /** Syscalls removed from the profile's own syscalls.denied list. */
  undeniedSyscalls: string[]
  allowedPorts: number[]
  fileAccess: { path: string; mode: FileAccessMode }[]
  writablePaths: string[]
}

export interface Proposal {
  profile: string
  /** The text the proposal starts from, as stored in the profile's current version. */
  baseYaml: string
  yaml: string
  diff: string
  additions: ProfileAdditions
  notProposed: NotProposed[]
  /** True when nothing needs to change. */
  unchanged: boolean
  /** Problems the policy parser found in the proposed text; empty when it is valid. */
  errors: string[]
}

export interface ProposalInput {
  profileName: string
  /** The profile's YAML as stored: its name as the only top-level key. */
  baseYaml: string
  /** The parsed profile of baseYaml. */
  profile: Profile
  activity: LearnedActivity
}

// Folders whose replacement by an empty tmpfs would break the sandbox or
// hide the system, so a write there is reported instead of proposed.
const SYSTEM_TREES = ['/', '/bin', '/boot', '/etc', '/lib', '/lib32', '/lib64', '/sbin', '/usr', '/var', '/opt', '/srv', '/home', '/root', '/proc', '/sys']

// Trees the sandbox mounts itself; Landlock rights there come from file_access, not a tmpfs.
const SANDBOX_TREES = ['/dev', '/proc']

/**
 * Returns the additions the activity calls for and the proposed YAML.
 * It never proposes a default-denied syscall outside OPT_IN_SYSCALLS: those
 * are listed in notProposed as needing a policy exception.
 */
export function buildProposal(input: ProposalInput): Proposal {
  const { profile, activity, profileName } = input
  const notProposed: NotProposed[] = []
  const additions: ProfileAdditions = {
    allowedSyscalls: [], undeniedSyscalls: [], allowedPorts: [], fileAccess: [], writablePaths: [],
  }

  const ownDenied = new Set(profile.syscalls.denied.map((rule) => rule.name))
  const allowed = new Set(profile.syscalls.allowed.map((rule) => rule.name))
  for (const name of Object.keys(activity.syscalls)) {
    if (ownDenied.has(name)) {
      additions.undeniedSyscalls.push(name)
    } else if (DEFAULT_DENIED_SYSCALLS.includes(name) && OPT_IN_SYSCALLS.includes(name)) {
      if (!allowed.has(name)) additions.allowedSyscalls.push(name)
    } else if (DEFAULT_DENIED_SYSCALLS.includes(name)) {
      notProposed.push({
        kind: 'syscall', value: name,
        reason: `denied in every profile; only ${OPT_IN_SYSCALLS.join(', ')} can be opted into, so this would need a policy exception, not proposed`,
      })
    } else {
      notProposed.push({ kind: 'syscall', value: name, reason: 'not denied by this profile or the defaults; nothing to change' })
    }
  }

  const listenPorts = new Set(profile.network.listen.flatMap((socket) => (socket.kind === 'tcp' ? [socket.port] : [])))
  for (const port of activity.ports) {
    if (!profile.network.allowedPorts.includes(port) && !listenPorts.has(port)) additions.allowedPorts.push(port)
  }
  if (additions.allowedPorts.length > 0 && profile.network.mode === 'none') {
    notProposed.push({
      kind: 'port', value: additions.allowedPorts.join(', '),
      reason: 'network mode none gives the sandbox only its own loopback; allowed_ports applies to it, but reaching other hosts needs network.mode veth',
    })
  }

  addPathChanges(profile, activity.paths, additions, notProposed)

  const unchanged = Object.values(additions).every((list) => list.length === 0)
  const yaml = unchanged ? input.baseYaml : applyAdditions(input.baseYaml, profileName, additions)
  const errors: string[] = []
  if (!unchanged) {
    const result = validateProfileYaml(yaml, profileName)
    if (!result.ok) errors.push(...result.errors.map((error) => error.text))
  }
  return {
    profile: profileName,
    baseYaml: input.baseYaml,
    yaml,
    diff: unchanged ? '' : unifiedDiff(input.baseYaml, yaml, `${profileName} (current)`, `${profileName} (proposed)`),
    additions,
    notProposed,
    unchanged,
    errors,
  }
}

function addPathChanges(profile: Profile, paths: ObservedPath[], additions: ProfileAdditions, notProposed: NotProposed[]): void {
  const denied = profile.filesystem.deniedPaths
  const writable = [...profile.filesystem.writablePaths.map((entry) => entry.path), ...profile.filesystem.dataPaths]
  const modes = new Map<string, Set<'r' | 'w' | 'x'>>()
  const writableDirs = new Set<string>()
  const reported = new Set<string>()
  const skip = (path: string, reason: string) => {
    if (reported.has(path)) return
    reported.add(path)
    notProposed.push({ kind: 'path', value: path, reason })
  }

  for (const entry of paths) {
    const deniedBy = denied.find((root) => isSameOrUnder(entry.path, root))
    if (deniedBy !== undefined) {
      skip(entry.path, `under denied path "${deniedBy}"; remove it from filesystem.denied_paths if the service needs it`)
      continue
    }
    // Observed accesses succeeded (or were not checked); only denials need a rule.
    if (!entry.denied) continue
    if (entry.access === 'read' || entry.access === 'execute') {
      addMode(modes, entry.path, entry.access === 'read' ? 'r' : 'x')
      continue
    }
    if (SANDBOX_TREES.some((tree) => isSameOrUnder(entry.path, tree))) {
      addMode(modes, entry.path, 'w')
      continue
    }
    // A create or remove names the folder; a write names the file.
    const folder = entry.access === 'create' ? entry.path : dirname(entry.path)
    if (writable.some((root) => isSameOrUnder(folder, root))) continue
    if (SYSTEM_TREES.includes(folder)) {
      skip(entry.path, `a writable tmpfs at ${folder} would hide the host's files there; write below a folder of the service's own`)
      continue
    }
    writableDirs.add(folder)
  }

  // A writable folder inside another proposed one adds nothing.
  const folders = [...writableDirs].sort()
  additions.writablePaths = folders.filter((folder) => !folders.some((other) => other !== folder && isSameOrUnder(folder, other)))
  const existing = new Map(profile.filesystem.fileAccess.map((rule) => [rule.path, rule.mode]))
  for (const [path, letters] of [...modes].sort(([a], [b]) => a.localeCompare(b))) {
    const merged = new Set([...(existing.get(path) ?? ''), ...letters]) as Set<'r' | 'w' | 'x'>
    const mode = (['r', 'w', 'x'] as const).filter((letter) => merged.has(letter)).join('') as FileAccessMode
    if (mode !== existing.get(path)) additions.fileAccess.push({ path, mode })
  }
}

function addMode(modes: Map<string, Set<'r' | 'w' | 'x'>>, path: string, letter: 'r' | 'w' | 'x'): void {
  const set = modes.get(path) ?? new Set()
  set.add(letter)
  modes.set(path, set)
}

function isSameOrUnder(path: string, root: string): boolean {
  return root === '/' || path === root || path.startsWith(`${root}/`)
}

/** Applies the additions to the profile's YAML, keeping its comments and layout. */
export function applyAdditions(baseYaml: string, profileName: string, additions: ProfileAdditions): string {
  const document = parseDocument(baseYaml)
  const root = [profileName]
  for (const name of additions.allowedSyscalls) appendItem(document, [...root, 'syscalls', 'allowed'], name)
  if (additions.undeniedSyscalls.length > 0) removeSyscalls(document, [...root, 'syscalls', 'denied'], new Set(additions.undeniedSyscalls))
  for (const port of additions.allowedPorts) appendItem(document, [...root, 'network', 'allowed_ports'], port)
  for (const rule of additions.fileAccess) {
    replaceFileAccess(document, [...root, 'filesystem', 'file_access'], rule.path)
    appendItem(document, [...root, 'filesystem', 'file_access'], rule)
  }
  for (const path of additions.writablePaths) appendItem(document, [...root, 'filesystem', 'writable_paths'], path)
  // No padding inside [ ] and no folding keeps untouched lines as written.
  return document.toString({ flowCollectionPadding: false, lineWidth: 0 })
}

function appendItem(document: Document, path: string[], value: unknown): void {
  const node = document.getIn(path, true)
  if (isSeq(node)) {
    node.add(document.createNode(value))
    return
  }
  document.setIn(path, document.createNode([value]))
}

function removeSyscalls(document: Document, path: string[], names: Set<string>): void {
  const node = document.getIn(path, true)
  if (!isSeq(node)) return
  const seq = node as YAMLSeq
  seq.items = seq.items.filter((item) => {
    if (isScalar(item)) return !names.has(String(item.value))
    if (isMap(item)) return !names.has(String((item as YAMLMap).get('name')))
    return true
  })
  // An empty list would read as "denied: []"; drop the key, and its section when that empties too.
  if (seq.items.length > 0) return
  document.deleteIn(path)
  const section = document.getIn(path.slice(0, -1), true)
  if (isMap(section) && section.items.length === 0) document.deleteIn(path.slice(0, -1))
}

function replaceFileAccess(document: Document, path: string[], rulePath: string): void {
  const node = document.getIn(path, true)
  if (!isSeq(node)) return
  const seq = node as YAMLSeq
  seq.items = seq.items.filter((item) => !(isMap(item) && String((item as YAMLMap).get('path')) === rulePath))
}
