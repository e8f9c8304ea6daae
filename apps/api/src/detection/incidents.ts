// Incidents: what a detection rule opens and an operator acknowledges and
// resolves. Rows live in the Incident table; every change is also written to
// the audit log with the actor that made it.

import type Database from 'better-sqlite3'
import type { AuditInput, AuditRecord, Severity } from '../types.js'
import type { ResponseAction } from './rules.js'

export type IncidentStatus = 'open' | 'acknowledged' | 'resolved'

export const INCIDENT_STATUSES: readonly IncidentStatus[] = ['open', 'acknowledged', 'resolved']

export interface Incident {
  id: number
  rule: string
  service: string | null
  severity: Severity
  status: IncidentStatus
  response: ResponseAction
  /**
   * `pending` until the response ran, then `succeeded`, `failed: <message>`,
   * or `not applicable: <reason>`; `none` for alert-only rules.
   */
  responseResult: string | null
  summary: string
  /** Seqs of the audit records that matched the rule. */
  eventSeqs: number[]
  /** ISO 8601 UTC. */
  createdAt: string
  acknowledgedBy: string | null
  acknowledgedAt: string | null
  resolvedBy: string | null
  resolvedAt: string | null
}

/** The part of the audit log that detection writes to and reads from. */
export interface AuditSink {
  append(input: AuditInput): Promise<AuditRecord> | AuditRecord
}

export interface NewIncident {
  rule: string
  service: string | null
  severity: Severity
  response: ResponseAction
  summary: string
  eventSeqs: number[]
  /** ISO 8601; the current time when omitted. */
  createdAt?: string
}

export interface ListIncidentsOptions {
  status?: IncidentStatus
  service?: string
  rule?: string
  /** 100 by default, at most 1000. */
  limit?: number
  /** Only incidents with an id below this one: the cursor for the next page. */
  before?: number
}

/** The error an acknowledge or resolve raises for an unknown id or a finished incident. */
export class IncidentStateError extends Error {
  constructor(
    readonly code: 'INCIDENT_NOT_FOUND' | 'INCIDENT_STATE_CONFLICT',
    message: string,
  ) {
    super(message)
    this.name = 'IncidentStateError'
  }
}

interface IncidentRow {
  id: number
  rule: string
  service: string | null
  severity: string
  status: string
  response: string
  responseResult: string | null
  summary: string
  eventSeqs: string
  createdAt: string
  acknowledgedBy: string | null
  acknowledgedAt: string | null
  resolvedBy: string | null
  resolvedAt: string | null
}

export const MAX_INCIDENT_LIST_LIMIT = 1000

export class IncidentStore {
  private readonly insertStatement: Database.Statement
  private readonly selectStatement: Database.Statement
  private readonly responseStatement: Database.Statement
  private readonly acknowledgeStatement: Database.Statement
  private readonly resolveStatement: Database.Statement

  constructor(
    readonly db: Database.Database,
    private readonly audit: AuditSink,
  ) {
    this.insertStatement = db.prepare(
      `INSERT INTO Incident (rule, service, severity, status, response, responseResult, summary, eventSeqs, createdAt)
       VALUES (@rule, @service, @severity, 'open', @response, @responseResult, @summary, @eventSeqs, @createdAt)`,
    )
    this.selectStatement = db.prepare(`SELECT * FROM Incident WHERE id = ?`)
    this.responseStatement = db.prepare(`UPDATE Incident SET responseResult = ? WHERE id = ?`)
    this.acknowledgeStatement = db.prepare(
      `UPDATE Incident SET status = 'acknowledged', acknowledgedBy = ?, acknowledgedAt = ? WHERE id = ? AND status = 'open'`,
    )
    this.resolveStatement = db.prepare(
      `UPDATE Incident SET status = 'resolved', resolvedBy = ?, resolvedAt = ? WHERE id = ? AND status != 'resolved'`,
    )
  }

  /** Stores a new open incident and writes INCIDENT_OPENED with the rule as actor. */
  async open(input: NewIncident): Promise<Incident> {
    const createdAt = input.createdAt ?? new Date().toISOString()
    const responseResult = input.response === 'alert' ? 'none' : 'pending'
    const result = this.insertStatement.run({
      rule: input.rule,
      service: input.service,
      severity: input.severity,
      response: input.response,
      responseResult,
      summary: input.summary,
      eventSeqs: JSON.stringify(input.eventSeqs),
      createdAt,
    })
    const incident = this.get(Number(result.lastInsertRowid))
    if (incident === null) throw new Error(`incident ${result.lastInsertRowid} vanished right after its insert`)
    await this.audit.append({
      service: incident.service,
      type: 'INCIDENT_OPENED',
      severity: incident.severity,
      description: `incident ${incident.id} opened by rule ${incident.rule}: ${incident.summary}`,
      metadata: {
        incidentId: incident.id,
        rule: incident.rule,
        response: incident.response,
        eventSeqs: incident.eventSeqs,
      },
      actor: `rule:${incident.rule}`,
    })
    return incident
  }

  /**
   * Stores the outcome of the incident's response and writes RESPONSE_TAKEN,
   * or RESPONSE_FAILED when `error` is given.
   */
  async recordResponse(id: number, error: Error | null): Promise<Incident> {
    const incident = this.require(id)
    const result = error === null ? 'succeeded' : `failed: ${error.message}`
    this.responseStatement.run(result, id)
    await this.audit.append({
      service: incident.service,
      type: error === null ? 'RESPONSE_TAKEN' : 'RESPONSE_FAILED',
      severity: error === null ? incident.severity : 'high',
      description:
        error === null
          ? `${incident.response} of ${incident.service} for incident ${id} succeeded`
          : `${incident.response} of ${incident.service} for incident ${id} failed: ${error.message}`,
      metadata: { incidentId: id, rule: incident.rule, response: incident.response, result },
      actor: `rule:${incident.rule}`,
    })
    return this.require(id)
  }

  /** Stores why a response could not run, such as a record without a service, without an audit record of its own. */
  markResponseNotApplicable(id: number, reason: string): Incident {
    this.responseStatement.run(`not applicable: ${reason}`, id)
    return this.require(id)
  }

  /** Moves an open incident to acknowledged and writes INCIDENT_ACKNOWLEDGED. */
  async acknowledge(id: number, actor: string, now = new Date()): Promise<Incident> {
    const current = this.require(id)
    const changed = this.acknowledgeStatement.run(actor, now.toISOString(), id).changes
    if (changed === 0) {
      throw new IncidentStateError(
        'INCIDENT_STATE_CONFLICT',
        `incident ${id} is ${current.status}; only an open incident can be acknowledged`,
      )
    }
    const incident = this.require(id)
    await this.audit.append({
      service: incident.service,
      type: 'INCIDENT_ACKNOWLEDGED',
      severity: 'info',
      description: `incident ${id} (rule ${incident.rule}) acknowledged by ${actor}`,
      metadata: { incidentId: id, rule: incident.rule },
      actor,
    })
    return incident
  }

  /** Moves an open or acknowledged incident to resolved and writes INCIDENT_RESOLVED. */
  async resolve(id: number, actor: string, now = new Date()): Promise<Incident> {
    this.require(id)
    const changed = this.resolveStatement.run(actor, now.toISOString(), id).changes
    if (changed === 0) {
      throw new IncidentStateError('INCIDENT_STATE_CONFLICT', `incident ${id} is already resolved`)
    }
    const incident = this.require(id)
    await this.audit.append({
      service: incident.service,
      type: 'INCIDENT_RESOLVED',
      severity: 'info',
      description: `incident ${id} (rule ${incident.rule}) resolved by ${actor}`,
      metadata: { incidentId: id, rule: incident.rule },
      actor,
    })
    return incident
  }

  /** Returns the audit records an incident matched, oldest first; records pruned since are missing. */
  events(incident: Incident): AuditRecord[] {
    if (incident.eventSeqs.length === 0) return []
    const rows = this.db
      .prepare(`SELECT * FROM AuditEvent WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq`)
      .all(JSON.stringify(incident.eventSeqs)) as AuditEventRow[]
    return rows.map((row) => ({ ...row, severity: row.severity as Severity, metadata: parseMetadata(row.metadata) }))
  }

  get(id: number): Incident | null {
    const row = this.selectStatement.get(id) as IncidentRow | undefined
    return row === undefined ? null : rowToIncident(row)
  }

  /** Returns matching incidents, newest first. */
  list(options: ListIncidentsOptions = {}): Incident[] {
    const where: string[] = []
    const params: unknown[] = []
    if (options.status !== undefined) {
      where.push('status = ?')
      params.push(options.status)
    }
    if (options.service !== undefined) {
      where.push('service = ?')
      params.push(options.service)
    }
    if (options.rule !== undefined) {
      where.push('rule = ?')
      params.push(options.rule)
    }
    if (options.before !== undefined) {
      where.push('id < ?')
      params.push(options.before)
    }
    const limit = options.limit ?? 100
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_INCIDENT_LIST_LIMIT) {
      throw new RangeError(`incident list limit ${limit} is invalid: use a whole number from 1 to ${MAX_INCIDENT_LIST_LIMIT}`)
    }
    const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''
    const rows = this.db.prepare(`SELECT * FROM Incident ${filter} ORDER BY id DESC LIMIT ?`).all(...params, limit)
    return (rows as IncidentRow[]).map(rowToIncident)
  }

  private require(id: number): Incident {
    const incident = this.get(id)
    if (incident === null) throw new IncidentStateError('INCIDENT_NOT_FOUND', `incident ${id} not found`)
    return incident
  }
}

interface AuditEventRow extends Omit<AuditRecord, 'metadata' | 'severity'> {
  severity: string
  metadata: string
}

function parseMetadata(text: string): Record<string, unknown> {
  const value: unknown = JSON.parse(text)
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
}

function rowToIncident(row: IncidentRow): Incident {
  return {
    id: row.id,
    rule: row.rule,
    service: row.service,
    severity: row.severity as Severity,
    status: row.status as IncidentStatus,
    response: row.response as ResponseAction,
    responseResult: row.responseResult,
    summary: row.summary,
    eventSeqs: JSON.parse(row.eventSeqs) as number[],
    createdAt: row.createdAt,
    acknowledgedBy: row.acknowledgedBy,
    acknowledgedAt: row.acknowledgedAt,
    resolvedBy: row.resolvedBy,
    resolvedAt: row.resolvedAt,
  }
}
