import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { formatRuleError, MAX_RULES_FILE_BYTES, parseRules } from '../../src/detection/rules.js'
import type { Rule } from '../../src/detection/rules.js'

const repo = join(import.meta.dirname, '..', '..', '..', '..')

function ok(text: string): Rule[] {
  const result = parseRules(text, 'rules.yaml')
  if (!result.ok) throw new Error(`expected valid rules, got:\n${result.errors.map(formatRuleError).join('\n')}`)
  return result.rules
}

function errors(text: string): string[] {
  const result = parseRules(text, 'rules.yaml')
  if (result.ok) throw new Error('expected errors, the rules were valid')
  return result.errors.map(formatRuleError)
}

/** Builds a valid rule with one line replaced or added, to test each field alone. */
function ruleWith(lines: Record<string, string>): string {
  const fields: Record<string, string> = {
    name: 'name: denial-flood',
    match: 'match: { type: ACCESS_DENIED }',
    response: 'response: isolate',
    severity: 'severity: high',
    ...lines,
  }
  const body = Object.values(fields)
    .filter((line) => line !== '')
    .join('\n    ')
  return `rules:\n  - ${body}\n`
}

describe('parseRules', () => {
  it('parses the example rules', () => {
    const rules = ok(readFileSync(join(repo, 'examples', 'rules.yaml'), 'utf8'))
    expect(rules.map((rule) => rule.name)).toEqual(['denial-flood', 'ptrace-attempt', 'launch-failures', 'oom-kill'])
    const flood = rules[0]
    expect(flood?.rate).toEqual({ count: 20, windowMs: 10_000 })
    expect(flood?.response).toBe('isolate')
    expect(flood?.cooldownMs).toBe(60_000)
    expect(rules[1]?.match.metadata).toEqual({ syscall: 'ptrace' })
    expect(rules[1]?.match.types).toEqual(['ACCESS_DENIED', 'SYSCALL_VIOLATION'])
  })

  it('compiles every field', () => {
    const [rule] = ok(`rules:
  - name: denial-flood
    description: More than 20 denied syscalls in 10 seconds
    match:
      type: ACCESS_DENIED
      service: [identity, storage]
      severity: [medium, high]
      metadata: { syscall: ptrace, decoded.port: 22, args.0: "0x1" }
    rate: { count: 20, window: 10s }
    response: isolate
    severity: high
    cooldown: 2m
`)
    expect(rule).toEqual({
      name: 'denial-flood',
      description: 'More than 20 denied syscalls in 10 seconds',
      match: {
        types: ['ACCESS_DENIED'],
        services: ['identity', 'storage'],
        severities: ['medium', 'high'],
        minSeverity: null,
        metadata: { syscall: 'ptrace', 'decoded.port': 22, 'args.0': '0x1' },
      },
      rate: { count: 20, windowMs: 10_000 },
      response: 'isolate',
      severity: 'high',
      cooldownMs: 120_000,
    })
  })

  it('fills defaults for optional fields', () => {
    const [rule] = ok(ruleWith({ match: 'match: { type: OOM_KILL, service: identity, min_severity: low }' }))
    expect(rule?.description).toBe('')
    expect(rule?.rate).toBeNull()
    expect(rule?.cooldownMs).toBe(0)
    expect(rule?.match.services).toEqual(['identity'])
    expect(rule?.match.severities).toBeNull()
    expect(rule?.match.minSeverity).toBe('low')
    expect(rule?.match.metadata).toEqual({})
  })

  it('accepts an empty rule list', () => {
    expect(ok('rules: []\n')).toEqual([])
    expect(ok('rules:\n')).toEqual([])
  })

  const cases: [string, string, string | string[]][] = [
    ['unknown rule key', ruleWith({ extra: 'respnse: alert' }), 'rules.yaml:6:5: rules[0].respnse: unknown key "respnse", did you mean "response"?'],
    ['unknown key far from any', ruleWith({ extra: 'colour: red' }), 'rules.yaml:6:5: rules[0].colour: unknown key "colour", valid keys are name, description, match, rate, response, severity, cooldown'],
    ['unknown match key', ruleWith({ match: 'match: { type: OOM_KILL, servce: a }' }), 'rules.yaml:3:30: rules[0].match.servce: unknown key "servce", did you mean "service"?'],
    ['unknown rate key', ruleWith({ rate: 'rate: { count: 2, windw: 1s }' }), [
      'rules.yaml:6:11: rules[0].rate.window: missing required field',
      'rules.yaml:6:23: rules[0].rate.windw: unknown key "windw", did you mean "window"?',
    ]],
    ['unknown top-level key', 'rules: []\nrulez: []\n', 'rules.yaml:2:1: rulez: unknown key "rulez", did you mean "rules"?'],
    ['missing name', ruleWith({ name: '' }), 'rules.yaml:2:5: rules[0].name: missing required field'],
    ['missing match', ruleWith({ match: '' }), 'rules.yaml:2:5: rules[0].match: missing required field'],
    ['missing type', ruleWith({ match: 'match: { service: a }' }), 'rules.yaml:3:12: rules[0].match.type: missing required field'],
    ['missing rules', 'other: 1\n', [
      'rules.yaml:1:1: other: unknown key "other", valid keys are rules',
      'rules.yaml:1:1: rules: missing: the file must contain `rules:` with a list of rules',
    ]],
    ['empty file', '', 'rules.yaml:1:1: rules: missing: the file must contain `rules:` with a list of rules'],
    ['rules not a list', 'rules: { a: 1 }\n', 'rules.yaml:1:8: rules: expected a list of rules'],
    ['rule not a mapping', 'rules:\n  - denial-flood\n', 'rules.yaml:2:5: rules[0]: expected a mapping with name, match, response and severity'],
    ['bad name', ruleWith({ name: 'name: Denial_Flood' }), 'rules.yaml:2:11: rules[0].name: invalid rule name "Denial_Flood": use lower-case letters, digits and dashes'],
    ['name not a string', ruleWith({ name: 'name: 12' }), 'rules.yaml:2:11: rules[0].name: expected a string, got number 12'],
    ['bad event type', ruleWith({ match: 'match: { type: access_denied }' }), 'rules.yaml:3:20: rules[0].match.type: invalid event type "access_denied": expected upper case such as ACCESS_DENIED'],
    ['empty type list', ruleWith({ match: 'match: { type: [] }' }), 'rules.yaml:3:20: rules[0].match.type: empty list: name at least one value or remove the key'],
    ['type of wrong kind', ruleWith({ match: 'match: { type: { a: 1 } }' }), 'rules.yaml:3:20: rules[0].match.type: expected a string or a list of strings, got a mapping'],
    ['number in type list', ruleWith({ match: 'match: { type: [OOM_KILL, 3] }' }), 'rules.yaml:3:31: rules[0].match.type[1]: expected a string, got number 3'],
    ['unknown match severity', ruleWith({ match: 'match: { type: OOM_KILL, severity: [low, huge] }' }), 'rules.yaml:3:46: rules[0].match.severity[1]: unknown severity "huge": expected one of info, low, medium, high, critical'],
    ['both severity filters', ruleWith({ match: 'match: { type: OOM_KILL, severity: low, min_severity: low }' }), 'rules.yaml:3:59: rules[0].match.min_severity: use either severity or min_severity, not both'],
    ['metadata not a mapping', ruleWith({ match: 'match: { type: OOM_KILL, metadata: ptrace }' }), 'rules.yaml:3:40: rules[0].match.metadata: expected a mapping of metadata fields to values, such as { syscall: ptrace }'],
    ['metadata list value', ruleWith({ match: 'match: { type: OOM_KILL, metadata: { syscall: [a] } }' }), 'rules.yaml:3:51: rules[0].match.metadata.syscall: expected a string, number, boolean or null to compare with'],
    ['metadata empty segment', ruleWith({ match: 'match: { type: OOM_KILL, metadata: { a..b: 1 } }' }), 'rules.yaml:3:42: rules[0].match.metadata.a..b: invalid metadata path "a..b": empty segment between dots'],
    ['unknown response', ruleWith({ response: 'response: isloate' }), 'rules.yaml:4:15: rules[0].response: unknown response "isloate", did you mean "isolate"?'],
    ['unrelated response', ruleWith({ response: 'response: page-someone' }), 'rules.yaml:4:15: rules[0].response: unknown response "page-someone", expected one of alert, block, isolate, terminate'],
    ['unknown severity', ruleWith({ severity: 'severity: severe' }), 'rules.yaml:5:15: rules[0].severity: unknown severity "severe", expected one of info, low, medium, high, critical'],
    ['severity typo', ruleWith({ severity: 'severity: hgh' }), 'rules.yaml:5:15: rules[0].severity: unknown severity "hgh", did you mean "high"?'],
    ['zero count', ruleWith({ rate: 'rate: { count: 0, window: 10s }' }), 'rules.yaml:6:20: rules[0].rate.count: must be greater than zero, got 0'],
    ['negative count', ruleWith({ rate: 'rate: { count: -5, window: 10s }' }), 'rules.yaml:6:20: rules[0].rate.count: must be greater than zero, got -5'],
    ['fractional count', ruleWith({ rate: 'rate: { count: 2.5, window: 10s }' }), 'rules.yaml:6:20: rules[0].rate.count: expected a whole number, got number 2.5'],
    ['count as string', ruleWith({ rate: 'rate: { count: many, window: 10s }' }), 'rules.yaml:6:20: rules[0].rate.count: expected a whole number, got string "many"'],
    ['zero window', ruleWith({ rate: 'rate: { count: 2, window: 0s }' }), 'rules.yaml:6:31: rules[0].rate.window: must be greater than zero, got 0s'],
    ['negative window', ruleWith({ rate: 'rate: { count: 2, window: -10s }' }), 'rules.yaml:6:31: rules[0].rate.window: invalid duration "-10s": expected a number and a unit (ms, s, m, h), such as 10s'],
    ['window without unit', ruleWith({ rate: 'rate: { count: 2, window: 10 }' }), 'rules.yaml:6:31: rules[0].rate.window: missing unit in 10: write a duration such as 10s or 500ms'],
    ['window over a day', ruleWith({ rate: 'rate: { count: 2, window: 25h }' }), 'rules.yaml:6:31: rules[0].rate.window: 25h is longer than the maximum of 24h'],
    ['missing window', ruleWith({ rate: 'rate: { count: 2 }' }), 'rules.yaml:6:11: rules[0].rate.window: missing required field'],
    ['rate not a mapping', ruleWith({ rate: 'rate: 20/10s' }), 'rules.yaml:6:11: rules[0].rate: expected a mapping such as { count: 20, window: 10s }'],
    ['zero cooldown', ruleWith({ cooldown: 'cooldown: 0ms' }), 'rules.yaml:6:15: rules[0].cooldown: must be greater than zero, got 0ms'],
    ['cooldown of wrong kind', ruleWith({ cooldown: 'cooldown: [1s]' }), 'rules.yaml:6:15: rules[0].cooldown: expected a duration such as 10s, got a list'],
    ['YAML syntax error', 'rules: [\n', 'rules.yaml:2:1: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    ['duplicate key', 'rules:\n  - name: a\n    name: b\n', 'rules.yaml:3:5: Map keys must be unique'],
  ]

  for (const [name, text, message] of cases) {
    it(`rejects ${name}`, () => {
      expect(errors(text)).toEqual(Array.isArray(message) ? message : [message])
    })
  }

  it('rejects duplicate rule names', () => {
    const text = `${ruleWith({})}  - name: denial-flood\n    match: { type: OOM_KILL }\n    response: alert\n    severity: low\n`
    expect(errors(text)).toEqual([
      'rules.yaml:6:11: rules[1].name: duplicate rule name "denial-flood", first used by rules[0]',
    ])
  })

  it('reports every error at once, in file order', () => {
    const text = `rules:
  - name: Bad
    match: { type: x }
    response: nuke
    severity: high
  - name: ok-name
    match: { type: OOM_KILL }
    rate: { count: 0, window: 0s }
    response: alert
    severity: extreme
`
    expect(errors(text)).toEqual([
      'rules.yaml:2:11: rules[0].name: invalid rule name "Bad": use lower-case letters, digits and dashes',
      'rules.yaml:3:20: rules[0].match.type: invalid event type "x": expected upper case such as ACCESS_DENIED',
      'rules.yaml:4:15: rules[0].response: unknown response "nuke", expected one of alert, block, isolate, terminate',
      'rules.yaml:8:20: rules[1].rate.count: must be greater than zero, got 0',
      'rules.yaml:8:31: rules[1].rate.window: must be greater than zero, got 0s',
      'rules.yaml:10:15: rules[1].severity: unknown severity "extreme", expected one of info, low, medium, high, critical',
    ])
  })

  it('rejects a file over the size limit', () => {
    const text = `rules: []\n#${'x'.repeat(MAX_RULES_FILE_BYTES)}\n`
    expect(errors(text)).toEqual([
      `rules.yaml:1:1: file is ${MAX_RULES_FILE_BYTES + 12} bytes, larger than the maximum of ${MAX_RULES_FILE_BYTES}: split the rules or remove unused ones`,
    ])
  })

  it('rejects too many aliases', () => {
    const refs = Array.from({ length: 101 }, () => '*t').join(', ')
    const text = `x: &t ACCESS_DENIED\nrules: []\ny: [${refs}]\n`
    expect(errors(text)).toEqual(['rules.yaml:1:1: file has 101 aliases, more than the maximum of 100'])
  })

  it('resolves a few aliases', () => {
    const text = `rules:
  - name: a
    match: &m { type: OOM_KILL }
    response: alert
    severity: low
  - name: b
    match: *m
    response: alert
    severity: low
`
    const rules = ok(text)
    expect(rules[1]?.match.types).toEqual(['OOM_KILL'])
  })

  it('formats an error without a path', () => {
    expect(formatRuleError({ file: 'r.yaml', line: 2, col: 3, path: '', message: 'bad' })).toBe('r.yaml:2:3: bad')
    expect(formatRuleError({ file: 'r.yaml', line: 2, col: 3, path: 'rules', message: 'bad' })).toBe('r.yaml:2:3: rules: bad')
  })
})
