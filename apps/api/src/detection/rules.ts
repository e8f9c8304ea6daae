// Detection rules: parsing and validation of the rules YAML file.
//
// Validation walks the YAML node tree rather than a plain JavaScript copy, so
// every error carries the line and column of its node. It reports every
// problem in one pass instead of stopping at the first.

import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml'
import type { Document, Node, Pair, YAMLMap } from 'yaml'
import { SEVERITIES } from '../types.js'
import type { Severity } from '../types.js'

export type ResponseAction = 'alert' | 'block' | 'isolate' | 'terminate'

export const RESPONSE_ACTIONS: readonly ResponseAction[] = ['alert', 'block', 'isolate', 'terminate']

/** Metadata values a rule can compare against. */
export type MetadataValue = string | number | boolean | null

export interface RuleMatch {
  /** Event types; a record matches when its type is one of them. */
  types: string[]
  /** Service names; null matches every service. */
  services: string[] | null
  /** Exact severities; null when the rule does not filter on severity. */
  severities: Severity[] | null
  /** Lowest severity that matches; null when the rule does not filter on it. */
  minSeverity: Severity | null
  /** Dotted metadata paths and the value each must equal. */
  metadata: Record<string, MetadataValue>
}

export interface Rule {
  name: string
  description: string
  match: RuleMatch
  /** Fire only on more than `count` matches within `windowMs` for one service; null fires on every match. */
  rate: { count: number; windowMs: number } | null
  response: ResponseAction
  /** The severity of the incidents the rule opens. */
  severity: Severity
  /** Milliseconds after an incident during which the same rule and service open no other; 0 for none. */
  cooldownMs: number
}

/** One validation problem, printed as `FILE:LINE:COL: field.path: message`. */
export interface RuleError {
  file: string
  line: number
  col: number
  /** Dotted path such as `rules[0].rate.window`; empty for YAML syntax errors. */
  path: string
  message: string
}

export type ParseRulesResult = { ok: true; rules: Rule[] } | { ok: false; errors: RuleError[] }

/** Largest rules file accepted, in bytes. */
export const MAX_RULES_FILE_BYTES = 1024 * 1024
/** Maximum number of YAML aliases (`*name`) in one rules file. */
export const MAX_RULES_ALIASES = 100
/** Maximum number of rules in one file, which bounds the evaluation cost of each record. */
export const MAX_RULES = 1000
/** Maximum number of nodes the validator visits, which bounds alias expansion. */
const MAX_VISITED_NODES = 200_000

const NAME_PATTERN = /^[a-z0-9-]+$/
const MAX_NAME_LENGTH = 64
const EVENT_TYPE_PATTERN = /^[A-Z][A-Z0-9_]*$/
const DURATION_PATTERN = /^(\d+)(ms|s|m|h)$/
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
/** Maximum window or cooldown: one day. */
const MAX_DURATION_MS = 86_400_000

const TOP_KEYS = ['rules']
const RULE_KEYS = ['name', 'description', 'match', 'rate', 'response', 'severity', 'cooldown']
const MATCH_KEYS = ['type', 'service', 'severity', 'min_severity', 'metadata']
const RATE_KEYS = ['count', 'window']

export function formatRuleError(error: RuleError): string {
  const where = `${error.file}:${error.line}:${error.col}`
  return error.path === '' ? `${where}: ${error.message}` : `${where}: ${error.path}: ${error.message}`
}

/** Parses and validates a rules file. Returns the rules, or every error found. */
export function parseRules(text: string, file: string): ParseRulesResult {
  const size = Buffer.byteLength(text, 'utf8')
  if (size > MAX_RULES_FILE_BYTES) {
    const message = `file is ${size} bytes, larger than the maximum of ${MAX_RULES_FILE_BYTES}: split the rules or remove unused ones`
    return { ok: false, errors: [{ file, line: 1, col: 1, path: '', message }] }
  }
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false })
  const validator = new Validator(file, doc, lineCounter)
  return validator.run()
}

class Validator {
  readonly errors: RuleError[] = []
  private visited = 0

  constructor(
    private readonly file: string,
    private readonly doc: Document.Parsed,
    private readonly lineCounter: LineCounter,
  ) {}

  run(): ParseRulesResult {
    for (const problem of this.doc.errors) {
      const offset = problem.pos[0]
      this.errorAt(offset, '', problem.message.split('\n')[0] ?? problem.message)
    }
    if (this.errors.length > 0) return { ok: false, errors: this.errors }

    const aliases = this.countAliases()
    if (aliases > MAX_RULES_ALIASES) {
      this.errorAt(0, '', `file has ${aliases} aliases, more than the maximum of ${MAX_RULES_ALIASES}`)
      return { ok: false, errors: this.errors }
    }

    const rules = this.topLevel()
    if (this.visited > MAX_VISITED_NODES) {
      this.errors.length = 0
      this.errorAt(0, '', `aliases expand to more than ${MAX_VISITED_NODES} nodes: write the rules out without aliases`)
    }
    this.errors.sort((a, b) => a.line - b.line || a.col - b.col)
    return this.errors.length > 0 ? { ok: false, errors: this.errors } : { ok: true, rules }
  }

  private countAliases(): number {
    let count = 0
    const walk = (node: unknown): void => {
      if (isAlias(node)) count++
      else if (isMap(node) || isSeq(node)) {
        for (const item of node.items) {
          if (isMap(node)) {
            const pair = item as Pair
            walk(pair.key)
            walk(pair.value)
          } else walk(item)
        }
      }
    }
    walk(this.doc.contents)
    return count
  }

  private topLevel(): Rule[] {
    const root = this.resolve(this.doc.contents)
    if (root === null || root === undefined || (isScalar(root) && root.value === null)) {
      this.errorAt(0, 'rules', 'missing: the file must contain `rules:` with a list of rules')
      return []
    }
    if (!isMap(root)) {
      this.error(root, '', 'expected a mapping with the key `rules`')
      return []
    }

    const fields = this.fields(root, '', TOP_KEYS)
    const list = fields.get('rules')
    if (list === undefined) {
      this.error(root, 'rules', 'missing: the file must contain `rules:` with a list of rules')
      return []
    }
    if (isScalar(list) && list.value === null) return []
    if (!isSeq(list)) {
      this.error(list, 'rules', 'expected a list of rules')
      return []
    }
    if (list.items.length > MAX_RULES) {
      this.error(list, 'rules', `${list.items.length} rules, more than the maximum of ${MAX_RULES}`)
      return []
    }

    const rules: Rule[] = []
    const seen = new Map<string, number>()
    list.items.forEach((item, index) => {
      const rule = this.rule(this.resolve(item), `rules[${index}]`, seen, index)
      if (rule !== null) rules.push(rule)
    })
    return rules
  }

  private rule(node: Node | null, path: string, seen: Map<string, number>, index: number): Rule | null {
    if (!isMap(node)) {
      this.error(node, path, 'expected a mapping with name, match, response and severity')
      return null
    }
    const fields = this.fields(node, path, RULE_KEYS)
    const before = this.errors.length

    const name = this.required(node, fields, path, 'name', (value, at) => this.ruleName(value, at))
    if (name !== undefined) {
      const first = seen.get(name)
      if (first !== undefined) this.error(fields.get('name'), `${path}.name`, `duplicate rule name "${name}", first used by rules[${first}]`)
      else seen.set(name, index)
    }
    const descriptionNode = fields.get('description')
    const description = descriptionNode === undefined ? '' : this.string(descriptionNode, `${path}.description`)
    const match = this.required(node, fields, path, 'match', (value, at) => this.match(value, at))
    const rateNode = fields.get('rate')
    const rate = rateNode === undefined ? null : this.rate(rateNode, `${path}.rate`)
    const response = this.required(node, fields, path, 'response', (value, at) =>
      this.oneOf(value, at, RESPONSE_ACTIONS, 'response'),
    )
    const severity = this.required(node, fields, path, 'severity', (value, at) =>
      this.oneOf(value, at, SEVERITIES, 'severity'),
    )
    const cooldownNode = fields.get('cooldown')
    const cooldownMs = cooldownNode === undefined ? 0 : this.duration(cooldownNode, `${path}.cooldown`)

    if (this.errors.length > before) return null
    if (name === undefined || match === undefined || response === undefined || severity === undefined) return null
    if (description === undefined || rate === undefined || cooldownMs === undefined) return null
    return { name, description, match, rate, response, severity, cooldownMs }
  }

  private ruleName(node: Node, path: string): string | undefined {
    const name = this.string(node, path)
    if (name === undefined) return undefined
    if (!NAME_PATTERN.test(name)) {
      this.error(node, path, `invalid rule name "${name}": use lower-case letters, digits and dashes`)
      return undefined
    }
    if (name.length > MAX_NAME_LENGTH) {
      this.error(node, path, `rule name is ${name.length} characters, longer than the maximum of ${MAX_NAME_LENGTH}`)
      return undefined
    }
    return name
  }

  private match(node: Node, path: string): RuleMatch | undefined {
    if (!isMap(node)) {
      this.error(node, path, 'expected a mapping with at least `type`')
      return undefined
    }
    const fields = this.fields(node, path, MATCH_KEYS)
    const before = this.errors.length
    const types = this.required(node, fields, path, 'type', (value, at) =>
      this.stringList(value, at, (item, itemPath) => {
        if (EVENT_TYPE_PATTERN.test(item.text)) return true
        this.error(item.node, itemPath, `invalid event type "${item.text}": expected upper case such as ACCESS_DENIED`)
        return false
      }),
    )
    const serviceNode = fields.get('service')
    const services =
      serviceNode === undefined
        ? null
        : this.stringList(serviceNode, `${path}.service`, (item, itemPath) => {
            if (item.text !== '') return true
            this.error(item.node, itemPath, 'empty service name')
            return false
          })
    const severityNode = fields.get('severity')
    const severities =
      severityNode === undefined
        ? null
        : this.stringList(severityNode, `${path}.severity`, (item, itemPath) => this.isSeverity(item, itemPath))
    const minSeverityNode = fields.get('min_severity')
    const minSeverity =
      minSeverityNode === undefined ? null : this.oneOf(minSeverityNode, `${path}.min_severity`, SEVERITIES, 'severity')
    if (severityNode !== undefined && minSeverityNode !== undefined) {
      this.error(minSeverityNode, `${path}.min_severity`, 'use either severity or min_severity, not both')
    }
    const metadataNode = fields.get('metadata')
    const metadata = metadataNode === undefined ? {} : this.metadata(metadataNode, `${path}.metadata`)

    if (this.errors.length > before) return undefined
    if (types === undefined || services === undefined || severities === undefined) return undefined
    if (minSeverity === undefined || metadata === undefined) return undefined
    return { types, services, severities: severities as Severity[] | null, minSeverity, metadata }
  }

  private isSeverity(item: { text: string; node: Node }, path: string): boolean {
    if ((SEVERITIES as readonly string[]).includes(item.text)) return true
    this.error(item.node, path, `unknown severity "${item.text}": expected one of ${SEVERITIES.join(', ')}`)
    return false
  }

  private metadata(node: Node, path: string): Record<string, MetadataValue> | undefined {
    if (!isMap(node)) {
      this.error(node, path, 'expected a mapping of metadata fields to values, such as { syscall: ptrace }')
      return undefined
    }
    const result: Record<string, MetadataValue> = {}
    let valid = true
    for (const pair of node.items) {
      const key = this.resolve(pair.key as Node)
      if (!isScalar(key) || typeof key.value !== 'string' || key.value === '') {
        this.error(key, path, 'metadata keys must be non-empty strings')
        valid = false
        continue
      }
      const fieldPath = `${path}.${key.value}`
      if (key.value.split('.').some((part) => part === '')) {
        this.error(key, fieldPath, `invalid metadata path "${key.value}": empty segment between dots`)
        valid = false
        continue
      }
      const value = this.resolve(pair.value as Node)
      const comparable = isScalar(value) && (value.value === null || ['string', 'number', 'boolean'].includes(typeof value.value))
      if (!comparable) {
        this.error(value ?? key, fieldPath, 'expected a string, number, boolean or null to compare with')
        valid = false
        continue
      }
      result[key.value] = (value as { value: MetadataValue }).value
    }
    return valid ? result : undefined
  }

  private rate(node: Node, path: string): { count: number; windowMs: number } | undefined {
    if (!isMap(node)) {
      this.error(node, path, 'expected a mapping such as { count: 20, window: 10s }')
      return undefined
    }
    const fields = this.fields(node, path, RATE_KEYS)
    const count = this.required(node, fields, path, 'count', (value, at) => this.positiveInteger(value, at))
    const windowMs = this.required(node, fields, path, 'window', (value, at) => this.duration(value, at))
    if (count === undefined || windowMs === undefined) return undefined
    return { count, windowMs }
  }

  private positiveInteger(node: Node, path: string): number | undefined {
    if (!isScalar(node) || typeof node.value !== 'number' || !Number.isInteger(node.value)) {
      this.error(node, path, `expected a whole number, got ${this.describe(node)}`)
      return undefined
    }
    if (node.value <= 0) {
      this.error(node, path, `must be greater than zero, got ${node.value}`)
      return undefined
    }
    if (!Number.isSafeInteger(node.value)) {
      this.error(node, path, `${node.value} is too large`)
      return undefined
    }
    return node.value
  }

  private duration(node: Node, path: string): number | undefined {
    if (isScalar(node) && typeof node.value === 'number') {
      this.error(node, path, `missing unit in ${node.value}: write a duration such as ${node.value}s or 500ms`)
      return undefined
    }
    if (!isScalar(node) || typeof node.value !== 'string') {
      this.error(node, path, `expected a duration such as 10s, got ${this.describe(node)}`)
      return undefined
    }
    const parsed = DURATION_PATTERN.exec(node.value)
    if (parsed === null) {
      this.error(node, path, `invalid duration "${node.value}": expected a number and a unit (ms, s, m, h), such as 10s`)
      return undefined
    }
    const ms = Number(parsed[1]) * (DURATION_UNITS[parsed[2] ?? 's'] ?? 1000)
    if (ms <= 0) {
      this.error(node, path, `must be greater than zero, got ${node.value}`)
      return undefined
    }
    if (ms > MAX_DURATION_MS) {
      this.error(node, path, `${node.value} is longer than the maximum of 24h`)
      return undefined
    }
    return ms
  }

  private oneOf<T extends string>(node: Node, path: string, allowed: readonly T[], what: string): T | undefined {
    const text = this.string(node, path)
    if (text === undefined) return undefined
    if ((allowed as readonly string[]).includes(text)) return text as T
    const hint = closest(text, allowed)
    const suggestion = hint === null ? `expected one of ${allowed.join(', ')}` : `did you mean "${hint}"?`
    this.error(node, path, `unknown ${what} "${text}", ${suggestion}`)
    return undefined
  }

  private string(node: Node, path: string): string | undefined {
    if (isScalar(node) && typeof node.value === 'string') return node.value
    this.error(node, path, `expected a string, got ${this.describe(node)}`)
    return undefined
  }

  /** A string or a non-empty list of strings, each checked by `check`. */
  private stringList(
    node: Node,
    path: string,
    check: (item: { text: string; node: Node }, path: string) => boolean,
  ): string[] | undefined {
    if (isScalar(node) && typeof node.value === 'string') {
      return check({ text: node.value, node }, path) ? [node.value] : undefined
    }
    if (!isSeq(node)) {
      this.error(node, path, `expected a string or a list of strings, got ${this.describe(node)}`)
      return undefined
    }
    if (node.items.length === 0) {
      this.error(node, path, 'empty list: name at least one value or remove the key')
      return undefined
    }
    const values: string[] = []
    let valid = true
    node.items.forEach((raw, index) => {
      const item = this.resolve(raw as Node)
      const itemPath = `${path}[${index}]`
      if (!isScalar(item) || typeof item.value !== 'string') {
        this.error(item, itemPath, `expected a string, got ${this.describe(item)}`)
        valid = false
      } else if (!check({ text: item.value, node: item }, itemPath)) valid = false
      else if (!values.includes(item.value)) values.push(item.value)
    })
    return valid ? values : undefined
  }

  /** Returns the map's values by key, after reporting unknown and non-string keys. */
  private fields(map: YAMLMap, path: string, known: readonly string[]): Map<string, Node> {
    const result = new Map<string, Node>()
    for (const pair of map.items) {
      const key = this.resolve(pair.key as Node)
      if (!isScalar(key) || typeof key.value !== 'string') {
        this.error(key, path, `expected a string key, got ${this.describe(key)}`)
        continue
      }
      const name = key.value
      const keyPath = path === '' ? name : `${path}.${name}`
      if (!known.includes(name)) {
        const hint = closest(name, known)
        const suggestion = hint === null ? `valid keys are ${known.join(', ')}` : `did you mean "${hint}"?`
        this.error(key, keyPath, `unknown key "${name}", ${suggestion}`)
        continue
      }
      const value = this.resolve(pair.value as Node)
      // A key with no value (`rate:`) reads as null; keep the key's position for the error.
      result.set(name, value ?? key)
    }
    return result
  }

  private required<T>(
    map: YAMLMap,
    fields: Map<string, Node>,
    path: string,
    key: string,
    read: (node: Node, path: string) => T | undefined,
  ): T | undefined {
    const keyPath = path === '' ? key : `${path}.${key}`
    const node = fields.get(key)
    if (node === undefined) {
      if (!map.items.some((pair) => isScalar(pair.key) && pair.key.value === key)) {
        this.error(map, keyPath, 'missing required field')
      }
      return undefined
    }
    return read(node, keyPath)
  }

  private resolve(node: unknown): Node | null {
    this.visited++
    if (this.visited > MAX_VISITED_NODES) return null
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null
    return (node as Node | null | undefined) ?? null
  }

  private describe(node: Node | null): string {
    if (node === null || (isScalar(node) && node.value === null)) return 'nothing'
    if (isMap(node)) return 'a mapping'
    if (isSeq(node)) return 'a list'
    if (isScalar(node)) return `${typeof node.value} ${JSON.stringify(node.value)}`
    return 'an unknown node'
  }

  private error(node: Node | null | undefined, path: string, message: string): void {
    this.errorAt(node?.range?.[0] ?? 0, path, message)
  }

  private errorAt(offset: number, path: string, message: string): void {
    if (this.visited > MAX_VISITED_NODES) return
    const { line, col } = this.lineCounter.linePos(offset)
    this.errors.push({ file: this.file, line, col, path, message })
  }
}

/** Returns the allowed word nearest to `word` when it is close enough to be a likely typo, else null. */
function closest(word: string, allowed: readonly string[]): string | null {
  let best: string | null = null
  let bestDistance = Infinity
  for (const candidate of allowed) {
    const distance = editDistance(word.toLowerCase(), candidate)
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3))
  return bestDistance <= limit ? best : null
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution))
    }
    previous = current
  }
  return previous[b.length] ?? 0
}
