// Detection and response: rules, the engine, incidents and their routes.

import { readFile, stat } from 'node:fs/promises'
import { MAX_RULES_FILE_BYTES, parseRules } from './rules.js'
import type { ParseRulesResult } from './rules.js'

export * from './rules.js'
export * from './engine.js'
export * from './incidents.js'
export * from './routes.js'

/** Reads and validates a rules file; a file over the size limit is rejected before it is read. */
export async function loadRulesFile(path: string): Promise<ParseRulesResult & { yaml: string }> {
  const { size } = await stat(path)
  if (size > MAX_RULES_FILE_BYTES) {
    const message = `file is ${size} bytes, larger than the maximum of ${MAX_RULES_FILE_BYTES}: split the rules or remove unused ones`
    return { ok: false, errors: [{ file: path, line: 1, col: 1, path: '', message }], yaml: '' }
  }
  const yaml = await readFile(path, 'utf8')
  return { ...parseRules(yaml, path), yaml }
}
