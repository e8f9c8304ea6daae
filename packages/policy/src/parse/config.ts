// parseConfig: YAML text -> typed, validated Config, or every error at once.
// Fail secure: any error, anywhere in the file, means no config is returned.

import { createHash } from 'node:crypto'
import { open, stat } from 'node:fs/promises'
import { dirname, resolve as resolvePath } from 'node:path'
import { isAlias, isCollection, isScalar, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml'
import type { Config, RestartPolicy, ServiceDefinition } from '../config.js'
import { DEFAULTS } from '../defaults.js'
import type { PolicyError, Profile } from '../profile.js'
import { didYouMean } from '../suggest.js'
import { type Loc, ParseContext, readBoolean, readEnum, readList, readMap, readString } from './context.js'
import { buildProfile, checkProfile, resolveExtends, type RawProfile } from './profile-build.js'
import { readEnvironmentMap, readProfileFields } from './profile-fields.js'
import { checkPath } from './values.js'

export type ParseResult = { ok: true; config: Config } | { ok: false; errors: PolicyError[] }

const TOP_LEVEL_KEYS = ['security_profiles', 'services']
const SERVICE_KEYS = ['profile', 'command', 'args', 'working_directory', 'environment', 'restart', 'persistent_paths', 'autostart']
const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
const SERVICE_NAME = /^[a-z][a-z0-9-]{0,31}$/

// Tags the core schema resolves by itself; any other tag is rejected rather
// than read as a plain string.
const CORE_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`))

/**
 * Maximum nesting of `[` / `{` in a file, and maximum number of block
 * indicators (`- - -`) on one line. A megabyte of either exhausted Node's heap inside
 * the yaml parser (measured with yaml 2.9.1 on Node 20) before this check.
 * Nesting by indentation needs no check: each level costs one more space
 * per line, so 1 MiB reaches about 1,400 levels, which the parser rejects
 * quickly with a stack overflow error.
 */
export const MAX_FLOW_DEPTH = 64

const COMPACT_NESTING = new RegExp(`^[ \\t]*(?:[-?:][ \\t]+){${MAX_FLOW_DEPTH + 1}}`, 'm')

/**
 * Returns the offset where collections nest deeper than MAX_FLOW_DEPTH, or
 * null. Quoted strings and comments are skipped; a bracket inside a plain
 * scalar still counts, which errs on the side of rejecting.
 */
function findDeepNesting(text: string): number | null {
  const compact = COMPACT_NESTING.exec(text)
  if (compact !== null) return compact.index
  let depth = 0
  let quote: string | null = null
  for (let i = 0; i < text.length; i++) {
    const char = text[i]
    if (quote !== null) {
      if (char === '\\' && quote === '"') i++
      else if (char === quote) quote = null
      continue
    }
    if (char === '"' || char === "'") {
      const previous = text[i - 1]
      // A quote only opens a string at the start of a scalar, not inside a word such as don't.
      if (previous === undefined || /[\s:,[{-]/.test(previous)) quote = char
    } else if (char === '#' && (i === 0 || /\s/.test(text[i - 1] ?? ''))) {
      const end = text.indexOf('\n', i)
      if (end === -1) break
      i = end
    } else if (char === '[' || char === '{') {
      depth++
      if (depth > MAX_FLOW_DEPTH) return i
    } else if ((char === ']' || char === '}') && depth > 0) {
      depth--
    }
  }
  return null
}

/** Formats an error as `FILE:LINE:COL: field.path: message`. */
export function formatError(error: PolicyError): string {
  const path = error.path === '' ? '' : `${error.path}: `
  return `${error.file}:${error.line}:${error.col}: ${path}${error.message}`
}

/** Reads and parses a config file, rejecting files over DEFAULTS.maxConfigBytes before reading them. */
export async function loadConfigFile(path: string): Promise<ParseResult> {
  const absolute = resolvePath(path)
  const failure = (message: string): ParseResult => ({ ok: false, errors: [{ file: path, line: 1, col: 1, path: '', message }] })
  let size: number
  try {
    size = (await stat(absolute)).size
  } catch (error) {
    return failure(`cannot read config file: ${(error as Error).message}`)
  }
  if (size > DEFAULTS.maxConfigBytes) return failure(tooLarge(size))
  let text: string
  try {
    text = await readBounded(absolute, DEFAULTS.maxConfigBytes)
  } catch (error) {
    if (error instanceof RangeError) return failure(error.message)
    return failure(`cannot read config file: ${(error as Error).message}`)
  }
  return parseConfig(text, path)
}

/**
 * Reads at most limit bytes, failing with a RangeError past it. stat's size
 * alone is not enough: a device or pipe such as /dev/zero reports 0 bytes
 * and never ends.
 */
async function readBounded(path: string, limit: number): Promise<string> {
  const handle = await open(path, 'r')
  try {
    const buffer = Buffer.alloc(limit + 1)
    let length = 0
    while (length <= limit) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null)
      if (bytesRead === 0) break
      length += bytesRead
    }
    if (length > limit) throw new RangeError(`config file is larger than the limit of ${limit} bytes; split it or remove unused entries`)
    return buffer.subarray(0, length).toString('utf8')
  } finally {
    await handle.close()
  }
}

function tooLarge(size: number): string {
  return `config file is ${size} bytes, larger than the limit of ${DEFAULTS.maxConfigBytes} bytes; split it or remove unused entries`
}

/**
 * Parses and validates a config. `file` names the file in error messages and
 * its folder is each service's default working directory.
 */
export function parseConfig(text: string, file: string): ParseResult {
  const lineCounter = new LineCounter()
  const size = Buffer.byteLength(text, 'utf8')
  if (size > DEFAULTS.maxConfigBytes) {
    const ctx = new ParseContext(file, null, lineCounter)
    ctx.error({ path: '', offset: 0 }, tooLarge(size))
    return { ok: false, errors: ctx.errors() }
  }
  const deep = findDeepNesting(text)
  if (deep !== null) {
    // The parser normally fills the line counter; it did not run, so count lines here.
    lineCounter.addNewLine(0)
    for (let i = text.indexOf('\n'); i !== -1 && i < deep; i = text.indexOf('\n', i + 1)) lineCounter.addNewLine(i + 1)
    const ctx = new ParseContext(file, null, lineCounter)
    ctx.error({ path: '', offset: deep }, `YAML nested more than ${MAX_FLOW_DEPTH} levels deep; flatten the structure`)
    return { ok: false, errors: ctx.errors() }
  }
  const doc = parseQuietly(text, lineCounter)
  const ctx = new ParseContext(file, doc, lineCounter)
  if (!checkYaml(ctx, doc, text)) return { ok: false, errors: ctx.errors() }

  const root = doc.contents as Node | null
  const config = readConfig(ctx, root, file)
  if (ctx.hasErrors || config === null) return { ok: false, errors: ctx.errors() }
  return { ok: true, config: { ...config, sha256: createHash('sha256').update(text).digest('hex') } }
}

/**
 * Parses without capturing a stack trace for each YAML error: a file full of
 * syntax errors otherwise spends most of its parse time building traces.
 */
function parseQuietly(text: string, lineCounter: LineCounter): Document.Parsed {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return parseDocument(text, { uniqueKeys: true, schema: 'core', lineCounter, prettyErrors: false, merge: false })
  } finally {
    Error.stackTraceLimit = limit
  }
}

/**
 * Reports syntax errors, duplicate keys, tags and alias bombs. Returns false
 * when the document cannot be walked safely.
 */
function checkYaml(ctx: ParseContext, doc: Document.Parsed, text: string): boolean {
  const keyPaths = collectKeyPaths(doc)
  let walkable = true
  for (const error of doc.errors) {
    const offset = error.pos[0]
    if (error.code === 'DUPLICATE_KEY') {
      const path = keyPaths.get(offset) ?? ''
      const key = path === '' ? text.slice(error.pos[0], error.pos[1]) : path.slice(path.lastIndexOf('.') + 1)
      ctx.error({ path, offset }, `duplicate key "${key}"; each key may appear only once in a map`)
    } else {
      ctx.error({ path: '', offset }, `invalid YAML: ${error.message.split('\n')[0]}`)
      walkable = false
    }
  }
  if (!walkable) return false
  try {
    doc.toJS({ maxAliasCount: DEFAULTS.maxAliasCount })
  } catch (error) {
    if (!(error instanceof ReferenceError)) throw error
    ctx.error({ path: '', offset: firstAliasOffset(doc) }, `too many YAML alias expansions (limit ${DEFAULTS.maxAliasCount}); the file looks like an entity-expansion attack, write the values out`)
    return false
  }
  visit(doc, (_key, node) => {
    if (!isScalar(node) && !isCollection(node)) return
    const tag = node.tag
    if (tag !== undefined && !CORE_TAGS.has(tag)) {
      const offset = node.range?.[0] ?? 0
      ctx.error({ path: keyPaths.get(offset) ?? nearestPath(keyPaths, offset), offset }, `tag "${tag.replace('tag:yaml.org,2002:', '!!')}" is not allowed; remove it`)
    }
  })
  return true
}

/** Maps the offset of every map key and value to its field path, for errors that only carry an offset. */
function collectKeyPaths(doc: Document.Parsed): Map<number, string> {
  const paths = new Map<number, string>()
  const walk = (node: unknown, path: string, depth: number): void => {
    if (depth > 64 || isAlias(node) || !isCollection(node)) return
    node.items.forEach((item, index) => {
      if (isScalar(item) || isCollection(item) || isAlias(item)) {
        const itemPath = `${path}[${index}]`
        const offset = (item as Node).range?.[0]
        if (offset !== undefined) paths.set(offset, itemPath)
        walk(item, itemPath, depth + 1)
        return
      }
      const pair = item as { key: unknown; value: unknown }
      const key = isScalar(pair.key) ? String(pair.key.value) : '?'
      const pairPath = path === '' ? key : `${path}.${key}`
      const keyOffset = (pair.key as Node | null)?.range?.[0]
      if (keyOffset !== undefined) paths.set(keyOffset, pairPath)
      const valueOffset = (pair.value as Node | null)?.range?.[0]
      if (valueOffset !== undefined) paths.set(valueOffset, pairPath)
      walk(pair.value, pairPath, depth + 1)
    })
  }
  walk(doc.contents, '', 0)
  return paths
}

function nearestPath(paths: Map<number, string>, offset: number): string {
  let best = ''
  let bestOffset = -1
  for (const [at, path] of paths) {
    if (at <= offset && at > bestOffset) {
      best = path
      bestOffset = at
    }
  }
  return best
}

function firstAliasOffset(doc: Document.Parsed): number {
  let offset = 0
  visit(doc, {
    Alias(_key, node) {
      offset = node.range?.[0] ?? 0
      return visit.BREAK
    },
  })
  return offset
}

function readConfig(ctx: ParseContext, root: Node | null, file: string): Omit<Config, 'sha256'> | null {
  const rootLoc: Loc = { path: '', offset: 0 }
  // An empty file is a valid config with nothing in it.
  if (root === null || (isScalar(root) && root.value === null)) return { profiles: {}, services: {} }
  const entries = readMap(ctx, root, rootLoc, 'a config with security_profiles and services', TOP_LEVEL_KEYS)
  if (entries === null) return null
  const profileEntry = entries.find((e) => e.key === 'security_profiles')
  const serviceEntry = entries.find((e) => e.key === 'services')
  const profiles = profileEntry === undefined ? {} : readProfiles(ctx, profileEntry.value, profileEntry.valueLoc)
  const services = serviceEntry === undefined ? {} : readServices(ctx, serviceEntry.value, serviceEntry.valueLoc, profiles, file)
  return { profiles, services }
}

function isEmpty(node: Node | null): boolean {
  return node === null || (isScalar(node) && node.value === null)
}

function readProfiles(ctx: ParseContext, node: Node | null, loc: Loc): Record<string, Profile> {
  if (isEmpty(node)) return {}
  const raws = new Map<string, RawProfile>()
  for (const entry of readMap(ctx, node, loc, 'profiles by name', null) ?? []) {
    if (!PROFILE_NAME.test(entry.key)) {
      ctx.error(entry.keyLoc, `invalid profile name "${entry.key}"; expected 1 to 64 letters, digits, _ . or -, starting with a letter or digit`)
      continue
    }
    raws.set(entry.key, { name: entry.key, loc: entry.keyLoc, fields: readProfileFields(ctx, entry.value, entry.valueLoc) })
  }
  const merged = resolveExtends(ctx, raws)
  const profiles: Record<string, Profile> = {}
  for (const [name, fields] of merged) {
    if (fields === null) continue
    const profile = buildProfile(name, fields)
    checkProfile(ctx, profile, fields)
    profiles[name] = profile
  }
  return profiles
}

function readServices(
  ctx: ParseContext,
  node: Node | null,
  loc: Loc,
  profiles: Record<string, Profile>,
  file: string,
): Record<string, ServiceDefinition> {
  if (isEmpty(node)) return {}
  const services: Record<string, ServiceDefinition> = {}
  for (const entry of readMap(ctx, node, loc, 'services by name', null) ?? []) {
    if (!SERVICE_NAME.test(entry.key)) {
      ctx.error(entry.keyLoc, `invalid service name "${entry.key}"; expected a lower-case letter, then up to 31 lower-case letters, digits or -`)
      continue
    }
    const service = readService(ctx, entry.key, entry.value, entry.valueLoc, profiles, file)
    if (service !== null) services[entry.key] = service
  }
  return services
}

function readService(
  ctx: ParseContext,
  name: string,
  node: Node | null,
  loc: Loc,
  profiles: Record<string, Profile>,
  file: string,
): ServiceDefinition | null {
  const entries = readMap(ctx, node, loc, 'a service', SERVICE_KEYS)
  if (entries === null) return null
  const service: ServiceDefinition = {
    name,
    profile: '',
    command: '',
    args: [],
    workingDirectory: dirname(resolvePath(file)),
    environment: {},
    restart: DEFAULTS.restart,
    persistentPaths: [],
    autostart: DEFAULTS.autostart,
  }
  let persistentLocs: Loc[] = []
  let profileLoc: Loc | null = null
  for (const entry of entries) {
    const at = entry.valueLoc
    switch (entry.key) {
      case 'profile': {
        const profile = readString(ctx, entry.value, at, 'a profile name')
        if (profile !== null) service.profile = profile
        profileLoc = at
        break
      }
      case 'command': {
        const command = readString(ctx, entry.value, at, 'a program path or name')
        const error = command === null ? null : checkCommand(command)
        if (error !== null) ctx.error(at, error)
        if (command !== null) service.command = command
        break
      }
      case 'args': {
        const items = readList(ctx, entry.value, at, 'strings')
        for (const item of items ?? []) {
          const arg = readString(ctx, item.node, item.loc, 'a string (quote numbers)')
          if (arg !== null && arg.includes('\0')) ctx.error(item.loc, 'argument contains a NUL character')
          if (arg !== null) service.args.push(arg)
        }
        break
      }
      case 'working_directory': {
        const dir = readString(ctx, entry.value, at, 'an absolute path')
        const error = dir === null ? null : checkPath(dir)
        if (error !== null) ctx.error(at, error)
        if (dir !== null) service.workingDirectory = dir
        break
      }
      case 'environment':
        service.environment = readEnvironmentMap(ctx, entry.value, at) ?? {}
        break
      case 'restart':
        service.restart = readEnum<RestartPolicy>(ctx, entry.value, at, ['no', 'on-failure', 'always']) ?? service.restart
        break
      case 'autostart':
        service.autostart = readBoolean(ctx, entry.value, at) ?? service.autostart
        break
      case 'persistent_paths': {
        const items = readList(ctx, entry.value, at, 'paths')
        persistentLocs = []
        for (const item of items ?? []) {
          const path = readString(ctx, item.node, item.loc, 'an absolute path')
          if (path === null) continue
          service.persistentPaths.push(path)
          persistentLocs.push(item.loc)
        }
        break
      }
    }
  }
  if (profileLoc === null) ctx.error(loc, 'missing key "profile"; name one of the security_profiles')
  else if (service.profile !== '' && !Object.hasOwn(profiles, service.profile)) {
    ctx.error(profileLoc, `unknown profile "${service.profile}"${didYouMean(service.profile, Object.keys(profiles))}`)
  }
  if (service.command === '' && !entries.some((e) => e.key === 'command')) ctx.error(loc, 'missing key "command"')
  const profile = profiles[service.profile]
  if (profile !== undefined) {
    const writable = profile.filesystem.writablePaths.map((w) => w.path)
    service.persistentPaths.forEach((path, index) => {
      if (!writable.includes(path)) {
        const choices = writable.length === 0 ? 'the profile has none' : `expected one of ${writable.join(', ')}`
        ctx.error(persistentLocs[index] ?? loc, `persistent path "${path}" is not a writable path of profile "${profile.name}"; ${choices}`)
      }
    })
  }
  return service
}

function checkCommand(command: string): string | null {
  if (command === '') return 'invalid command "": expected an absolute path or a program name'
  if (command.startsWith('/')) return checkPath(command)
  if (command.includes('/') || /[\0\n]/.test(command)) {
    return `invalid command "${command}": expected an absolute path or a bare program name looked up in PATH`
  }
  return null
}
