// Walks YAML nodes with their field paths and collects every error with its
// source position, so a file with many mistakes is reported in one pass.

import { isAlias, isMap, isScalar, isSeq, LineCounter, type Document, type Node, type YAMLMap } from 'yaml'
import type { PolicyError } from '../profile.js'
import { didYouMean } from '../suggest.js'

/** Source location of a value: its field path and its offset in the file. */
export interface Loc {
  path: string
  offset: number
}

/** Errors listed before the rest are summed up in one line. */
export const MAX_REPORTED_ERRORS = 200

interface PendingError {
  offset: number
  path: string
  message: string
}

export class ParseContext {
  private readonly pending: PendingError[] = []

  constructor(
    readonly file: string,
    private readonly doc: Document.Parsed | null,
    private readonly lineCounter: LineCounter,
  ) {}

  private readonly seen = new Set<string>()

  /** Records an error; the same message at the same place is kept once (inherited fields are checked per profile). */
  error(loc: Loc, message: string): void {
    const key = `${loc.offset}\0${loc.path}\0${message}`
    if (this.seen.has(key)) return
    this.seen.add(key)
    this.pending.push({ offset: loc.offset, path: loc.path, message })
  }

  get hasErrors(): boolean {
    return this.pending.length > 0
  }

  /**
   * Returns the errors ordered by position in the file: every one up to
   * MAX_REPORTED_ERRORS, then one entry that counts the rest.
   */
  errors(): PolicyError[] {
    const sorted = [...this.pending].sort((a, b) => a.offset - b.offset || a.path.localeCompare(b.path, 'en', { numeric: true }))
    const shown = sorted.slice(0, MAX_REPORTED_ERRORS)
    const hidden = sorted.length - shown.length
    if (hidden > 0) {
      const last = shown[shown.length - 1] as PendingError
      shown.push({ offset: last.offset, path: '', message: `${hidden} more errors not shown; fix the ones above first` })
    }
    return shown.map((e) => {
      const { line, col } = this.lineCounter.linePos(e.offset)
      return { file: this.file, line: Math.max(1, line), col: Math.max(1, col), path: e.path, message: e.message }
    })
  }

  /** Follows an alias to the node it names; aliases were bounded before the walk began. */
  deref(node: unknown): Node | null {
    if (node === null || node === undefined) return null
    if (isAlias(node)) return this.doc === null ? null : ((node.resolve(this.doc) as Node | undefined) ?? null)
    return node as Node
  }
}

/** A key of a YAML map with its value node and the path and location of each. */
export interface Entry {
  key: string
  keyLoc: Loc
  value: Node | null
  /** Location of the value, or of the key when the value is empty. */
  valueLoc: Loc
  path: string
}

export function offsetOf(node: Node | null, fallback: number): number {
  return node?.range?.[0] ?? fallback
}

export function describeNode(node: Node | null): string {
  if (node === null) return 'nothing'
  if (isMap(node)) return 'a map'
  if (isSeq(node)) return 'a list'
  if (isScalar(node)) {
    const value = node.value
    if (value === null) return 'null'
    if (typeof value === 'string') return `the string "${value}"`
    if (typeof value === 'boolean') return `the boolean ${value}`
    if (typeof value === 'number') return `the number ${value}`
  }
  return 'an unsupported value'
}

function joinPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`
}

/**
 * Reads a YAML map and returns its entries. Reports keys that are not in
 * `allowed` (with the nearest allowed key) and non-string keys. Returns null
 * and reports an error when the node is not a map.
 */
export function readMap(
  ctx: ParseContext,
  node: Node | null,
  loc: Loc,
  what: string,
  allowed: readonly string[] | null,
): Entry[] | null {
  const resolved = ctx.deref(node)
  if (!isMap(resolved)) {
    ctx.error(loc, `expected ${what} (a map), got ${describeNode(resolved)}`)
    return null
  }
  return mapEntries(ctx, resolved, loc.path, allowed)
}

function mapEntries(ctx: ParseContext, map: YAMLMap, parentPath: string, allowed: readonly string[] | null): Entry[] {
  const entries: Entry[] = []
  for (const pair of map.items) {
    const keyNode = ctx.deref(pair.key)
    const keyOffset = offsetOf(keyNode, offsetOf(map, 0))
    if (!isScalar(keyNode) || typeof keyNode.value !== 'string') {
      ctx.error({ path: parentPath, offset: keyOffset }, `invalid key: expected a name, got ${describeNode(keyNode)}`)
      continue
    }
    const key = keyNode.value
    const path = joinPath(parentPath, key)
    const keyLoc = { path, offset: keyOffset }
    if (allowed !== null && !allowed.includes(key)) {
      const choices = [...allowed].sort()
      const hint = didYouMean(key, choices)
      ctx.error(keyLoc, `unknown key "${key}"${hint === '' ? '' : ` (${hint.slice(2)})`}; expected one of ${choices.join(', ')}`)
      continue
    }
    const value = ctx.deref(pair.value as Node | null)
    entries.push({ key, keyLoc, value, valueLoc: { path, offset: offsetOf(value, keyOffset) }, path })
  }
  return entries
}

/** Returns the items of a YAML list with their locations, or null after reporting a type error. */
export function readList(ctx: ParseContext, node: Node | null, loc: Loc, what: string): { node: Node | null; loc: Loc }[] | null {
  const resolved = ctx.deref(node)
  if (!isSeq(resolved)) {
    const hint = resolved === null || (isScalar(resolved) && resolved.value === null) ? '; write [] for an empty list' : ''
    ctx.error(loc, `expected a list of ${what}, got ${describeNode(resolved)}${hint}`)
    return null
  }
  return resolved.items.map((item, index) => {
    const itemNode = ctx.deref(item)
    return { node: itemNode, loc: { path: `${loc.path}[${index}]`, offset: offsetOf(itemNode, loc.offset) } }
  })
}

export function readString(ctx: ParseContext, node: Node | null, loc: Loc, what: string): string | null {
  if (isScalar(node) && typeof node.value === 'string') return node.value
  ctx.error(loc, `expected ${what}, got ${describeNode(node)}`)
  return null
}

export function readBoolean(ctx: ParseContext, node: Node | null, loc: Loc): boolean | null {
  if (isScalar(node) && typeof node.value === 'boolean') return node.value
  ctx.error(loc, `expected true or false, got ${describeNode(node)}`)
  return null
}

/** Reads an integer in [min, max]; a boolean, string or fraction is an error. */
export function readInteger(ctx: ParseContext, node: Node | null, loc: Loc, min: number, max: number): number | null {
  const expected = `expected an integer from ${min} to ${max}`
  if (!isScalar(node) || typeof node.value !== 'number') {
    ctx.error(loc, `${expected}, got ${describeNode(node)}`)
    return null
  }
  const value = node.value
  if (!Number.isInteger(value) || value < min || value > max) {
    ctx.error(loc, `invalid value ${value}; ${expected}`)
    return null
  }
  return value
}

/** Reads a scalar that is a string or a number (sizes, CPU amounts). */
export function readScalar(ctx: ParseContext, node: Node | null, loc: Loc, what: string): string | number | null {
  if (isScalar(node) && (typeof node.value === 'string' || typeof node.value === 'number')) return node.value
  ctx.error(loc, `expected ${what}, got ${describeNode(node)}`)
  return null
}

export function readEnum<T extends string>(ctx: ParseContext, node: Node | null, loc: Loc, choices: readonly T[]): T | null {
  if (isScalar(node) && typeof node.value === 'string' && (choices as readonly string[]).includes(node.value)) {
    return node.value as T
  }
  const shown = isScalar(node) && typeof node.value === 'string' ? `"${node.value}"` : describeNode(node)
  ctx.error(loc, `invalid value ${shown}; expected one of ${choices.join(', ')}`)
  return null
}
