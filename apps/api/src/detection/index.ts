// Detection and response: rules, the engine, incidents and their routes.

import { existsSync } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import type Database from 'better-sqlite3'
import { DetectionEngine, supervisorResponder } from './engine.js'
import type { AuditSource, DetectionLogger, SupervisorActions } from './engine.js'
import { IncidentStore } from './incidents.js'
import type { AuditSink } from './incidents.js'
import type { DetectionRoutesOptions } from './routes.js'
import { formatRuleError, MAX_RULES_FILE_BYTES, parseRules } from './rules.js'
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

export interface StartDetectionOptions {
  /** The database with the migrations applied; the Incident table is read and written through it. */
  db: Database.Database
  audit: AuditSink & AuditSource
  /** Null when no supervisor runs; responses other than alert are then recorded as failed. */
  supervisor: SupervisorActions | null
  /** Rules file read at start and rewritten by PUT /rules; a missing file means no rules yet. */
  rulesFile: string | null
  throttleEventsPerSecond?: number
  log?: DetectionLogger
}

export interface DetectionSetup {
  engine: DetectionEngine
  incidents: IncidentStore
  /** Options for `app.register(detectionRoutes, { prefix: '/api/v1', ...routeOptions })`. */
  routeOptions: DetectionRoutesOptions
}

/**
 * Loads the rules, subscribes the engine to the audit log and returns what
 * the routes need. Throws with every rule error when the rules file is invalid,
 * so a server never starts with rules silently dropped.
 */
export async function startDetection(options: StartDetectionOptions): Promise<DetectionSetup> {
  let rules: ParseRulesResult & { yaml: string } = { ok: true, rules: [], yaml: '' }
  if (options.rulesFile !== null && existsSync(options.rulesFile)) rules = await loadRulesFile(options.rulesFile)
  if (!rules.ok) {
    throw new Error(`invalid detection rules:\n${rules.errors.map(formatRuleError).join('\n')}`)
  }
  const incidents = new IncidentStore(options.db, options.audit)
  const engine = new DetectionEngine({
    incidents,
    audit: options.audit,
    responder: options.supervisor === null ? null : supervisorResponder(options.supervisor),
    rules: rules.rules,
    rulesYaml: rules.yaml,
    throttleEventsPerSecond: options.throttleEventsPerSecond,
    log: options.log,
  })
  engine.start(options.audit)
  return { engine, incidents, routeOptions: { engine, incidents, audit: options.audit, rulesFile: options.rulesFile } }
}
