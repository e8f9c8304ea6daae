// GET /api/v1/events/export: the events matching a filter as JSON Lines or
// CSV, streamed page by page so memory stays flat for large exports.

import { Readable } from 'node:stream'
import type { FastifyPluginAsync } from 'fastify'
import { SEVERITIES, type AuditRecord, type Severity } from '../../types.js'
import { apiError } from '../errors.js'
import type { AuditLogPort } from '../ports.js'

export interface EventsExportOptions {
  audit: AuditLogPort
}

export const MAX_EXPORT_ROWS = 100_000
const PAGE_SIZE = 1000

const exportQuery = {
  type: 'object',
  properties: {
    format: { type: 'string', enum: ['jsonl', 'csv'] },
    service: { type: 'string', minLength: 1, maxLength: 64 },
    type: { type: 'string', pattern: '^[A-Z][A-Z0-9_]{0,63}$' },
    severity: { type: 'string', enum: SEVERITIES },
    since: { type: 'string', format: 'date-time' },
    until: { type: 'string', format: 'date-time' },
    before: { type: 'integer', minimum: 1 },
    max: { type: 'integer', minimum: 1, maximum: MAX_EXPORT_ROWS, default: MAX_EXPORT_ROWS },
  },
  required: ['format'],
  additionalProperties: false,
} as const

export interface ExportQuery {
  format: 'jsonl' | 'csv'
  service?: string
  type?: string
  severity?: Severity
  since?: string
  until?: string
  before?: number
  max: number
}

export const CSV_COLUMNS = ['seq', 'time', 'service', 'pid', 'type', 'severity', 'description', 'actor', 'metadata', 'hash'] as const

/**
 * Quotes a CSV field (RFC 4180) when it contains a comma, quote or line break.
 * A text starting with =, +, -, @ or a tab gets a leading apostrophe so a
 * spreadsheet shows it instead of evaluating it as a formula.
 */
export function csvField(value: string | number | null): string {
  if (value === null) return ''
  if (typeof value === 'number') return String(value)
  const guarded = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value
  return /[",\r\n]/.test(guarded) ? `"${guarded.replace(/"/g, '""')}"` : guarded
}

export function csvRow(record: AuditRecord): string {
  const values = [
    record.seq, record.time, record.service, record.pid, record.type, record.severity,
    record.description, record.actor, JSON.stringify(record.metadata), record.hash,
  ]
  return `${values.map(csvField).join(',')}\r\n`
}

/** Yields matching records newest first, one page per query, until `max` or the start of `since`. */
export async function* exportRecords(audit: AuditLogPort, query: ExportQuery): AsyncGenerator<AuditRecord> {
  const sinceMs = query.since === undefined ? null : Date.parse(query.since)
  const untilMs = query.until === undefined ? null : Date.parse(query.until)
  let before = query.before
  let sent = 0
  while (sent < query.max) {
    const limit = Math.min(PAGE_SIZE, query.max - sent)
    // AuditLog.query also takes since and until; a port without them
    // is filtered by the checks below.
    const filter = { service: query.service, type: query.type, severity: query.severity, since: query.since, until: query.until, limit, before }
    const page = await audit.query(filter)
    for (const record of page) {
      const time = Date.parse(record.time)
      if (sinceMs !== null && time < sinceMs) return
      if (untilMs !== null && time >= untilMs) continue
      yield record
      sent++
      if (sent >= query.max) return
    }
    if (page.length < limit) return
    before = page[page.length - 1]!.seq
  }
}

async function* encode(records: AsyncGenerator<AuditRecord>, format: 'jsonl' | 'csv'): AsyncGenerator<string> {
  if (format === 'csv') yield `${CSV_COLUMNS.join(',')}\r\n`
  let batch = ''
  for await (const record of records) {
    batch += format === 'csv' ? csvRow(record) : `${JSON.stringify(record)}\n`
    if (batch.length >= 64 * 1024) {
      yield batch
      batch = ''
    }
  }
  if (batch !== '') yield batch
}

export const eventsExportRoutes: FastifyPluginAsync<EventsExportOptions> = async (app, options) => {
  app.get<{ Querystring: ExportQuery }>('/api/v1/events/export', { schema: { querystring: exportQuery } }, async (request, reply) => {
    const query = request.query
    if (query.since !== undefined && query.until !== undefined && Date.parse(query.since) > Date.parse(query.until)) {
      throw apiError('INVALID_REQUEST', `querystring.since: ${query.since} is after until (${query.until}); swap them`)
    }
    const stamp = new Date().toISOString().replace(/[:.]/g, '-')
    const extension = query.format === 'csv' ? 'csv' : 'jsonl'
    void reply.header('content-type', query.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/jsonl; charset=utf-8')
    void reply.header('content-disposition', `attachment; filename="blackhole-events-${stamp}.${extension}"`)
    return reply.send(Readable.from(encode(exportRecords(options.audit, query), query.format)))
  })
}
