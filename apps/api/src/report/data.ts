// Reads what a compliance report covers from the Blackhole database: audit
// events of the period, incidents, profile versions and the last signed
// checkpoint. The server and `blackhole report` share it.

import type Database from 'better-sqlite3'
import type { AuditRecord, Severity } from '../types.js'

/** The report period: from inclusive, to exclusive, both ISO 8601 UTC. */
export interface ReportPeriod {
  from: string
  to: string
}

export interface ReportProfileVersion {
  profile: string
  version: number
  yaml: string
  sha256: string
  author: string
  createdAt: string
}

export interface ReportIncident {
  id: number
  rule: string
  service: string | null
  severity: Severity
  status: string
  response: string
  responseResult: string | null
  summary: string
  createdAt: string
  acknowledgedBy: string | null
  resolvedBy: string | null
  resolvedAt: string | null
}

export interface ReportCheckpoint {
  seq: number
  time: string
  hash: string
}

/** The raw material of one report, before grouping. */
export interface ReportData {
  period: ReportPeriod
  /** Number of events per type in the period. */
  eventCounts: Record<string, number>
  /** Events of the period whose actor is a person (`token:` or `user:`), newest first, at most MAX_OPERATOR_ACTIONS. */
  operatorActions: AuditRecord[]
  operatorActionCount: number
  /** SERVICE_STARTED events of the period, oldest first, for the services and the profiles they ran. */
  serviceStarts: AuditRecord[]
  /** Every stored version of every profile, oldest first. */
  profileVersions: ReportProfileVersion[]
  /** Incidents opened in the period. */
  incidents: ReportIncident[]
  lastCheckpoint: ReportCheckpoint | null
}

/** Most operator actions listed one by one; the count covers the rest. */
export const MAX_OPERATOR_ACTIONS = 1000
const MAX_SERVICE_STARTS = 10_000

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/

/** Parses a period bound (a date or an ISO 8601 time) into ISO 8601 UTC; throws a RangeError naming the bad value. */
export function parseReportTime(name: 'from' | 'to', text: string): string {
  const time = ISO_TIME.test(text) ? Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text) : Number.NaN
  if (Number.isNaN(time)) {
    throw new RangeError(`invalid ${name} "${text}": use an ISO 8601 date or time such as 2026-12-01 or 2026-12-01T08:00:00Z`)
  }
  return new Date(time).toISOString()
}

/** Checks from < to and returns the period; throws a RangeError otherwise. */
export function reportPeriod(from: string, to: string): ReportPeriod {
  const period = { from: parseReportTime('from', from), to: parseReportTime('to', to) }
  if (period.from >= period.to) throw new RangeError(`the period is empty: from ${period.from} is not before to ${period.to}`)
  return period
}

interface EventRow extends Omit<AuditRecord, 'metadata'> {
  metadata: string
}

function toRecord(row: EventRow): AuditRecord {
  return { ...row, metadata: JSON.parse(row.metadata) as Record<string, unknown> }
}

// Prisma writes DateTime columns as milliseconds; rows written by SQL defaults hold text.
function isoOf(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint') return new Date(Number(value)).toISOString()
  const text = String(value)
  const parsed = Date.parse(/^\d{4}-\d{2}-\d{2} \d/.test(text) ? `${text.replace(' ', 'T')}Z` : text)
  return Number.isNaN(parsed) ? text : new Date(parsed).toISOString()
}

/** Reads the report's data for a period from an open database. */
export function readReportData(db: Database.Database, period: ReportPeriod): ReportData {
  const range = { from: period.from, to: period.to }
  const counts = db
    .prepare(`SELECT type, COUNT(*) AS count FROM AuditEvent WHERE time >= @from AND time < @to GROUP BY type ORDER BY type`)
    .all(range) as { type: string; count: number }[]
  const operatorWhere = `time >= @from AND time < @to AND (actor LIKE 'token:%' OR actor LIKE 'user:%')`
  const operatorActions = (
    db.prepare(`SELECT * FROM AuditEvent WHERE ${operatorWhere} ORDER BY seq DESC LIMIT ${MAX_OPERATOR_ACTIONS}`).all(range) as EventRow[]
  ).map(toRecord)
  const operatorActionCount = (db.prepare(`SELECT COUNT(*) AS count FROM AuditEvent WHERE ${operatorWhere}`).get(range) as { count: number }).count
  const serviceStarts = (
    db
      .prepare(`SELECT * FROM AuditEvent WHERE type = 'SERVICE_STARTED' AND time >= @from AND time < @to ORDER BY seq LIMIT ${MAX_SERVICE_STARTS}`)
      .all(range) as EventRow[]
  ).map(toRecord)

  const profileVersions = (
    db.prepare(`SELECT profileName, version, yaml, sha256, author, createdAt FROM ProfileVersion ORDER BY profileName, version`).all() as {
      profileName: string; version: number; yaml: string; sha256: string; author: string; createdAt: unknown
    }[]
  ).map((row) => ({ profile: row.profileName, version: row.version, yaml: row.yaml, sha256: row.sha256, author: row.author, createdAt: isoOf(row.createdAt) }))

  const incidents = (db.prepare(`SELECT * FROM Incident ORDER BY id`).all() as Record<string, unknown>[])
    .map((row) => ({
      id: Number(row.id), rule: String(row.rule), service: row.service === null ? null : String(row.service),
      severity: String(row.severity) as Severity, status: String(row.status), response: String(row.response),
      responseResult: row.responseResult === null ? null : String(row.responseResult), summary: String(row.summary),
      createdAt: isoOf(row.createdAt), acknowledgedBy: row.acknowledgedBy === null ? null : String(row.acknowledgedBy),
      resolvedBy: row.resolvedBy === null ? null : String(row.resolvedBy),
      resolvedAt: row.resolvedAt === null || row.resolvedAt === undefined ? null : isoOf(row.resolvedAt),
    }))
    .filter((incident) => incident.createdAt >= period.from && incident.createdAt < period.to)

  const checkpoint = db.prepare(`SELECT seq, time, hash FROM AuditCheckpoint ORDER BY seq DESC LIMIT 1`).get() as ReportCheckpoint | undefined
  return {
    period,
    eventCounts: Object.fromEntries(counts.map((row) => [row.type, row.count])),
    operatorActions,
    operatorActionCount,
    serviceStarts,
    profileVersions,
    incidents,
    lastCheckpoint: checkpoint ?? null,
  }
}
