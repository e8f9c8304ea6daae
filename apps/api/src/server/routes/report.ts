// The compliance report for a period, as JSON or as a printable HTML page.

import type { Config } from '@blackhole/policy'
import type Database from 'better-sqlite3'
import type { FastifyPluginAsync } from 'fastify'
import type { VerifyReport } from '../../audit/verify.js'
import { buildComplianceReport } from '../../report/build.js'
import { readReportData, reportPeriod } from '../../report/data.js'
import { renderComplianceHtml } from '../../report/html.js'
import { apiError } from '../errors.js'
import type { AuditLogPort } from '../ports.js'

export interface ReportRoutesOptions {
  config: Config
  /** A better-sqlite3 connection to the Blackhole database. */
  database: Database.Database
  /** The audit log; when it has verify(), as AuditLog does, the report includes the chain check. */
  audit: AuditLogPort
}

const reportQuery = {
  type: 'object',
  properties: {
    from: { type: 'string', minLength: 1, maxLength: 40 },
    to: { type: 'string', minLength: 1, maxLength: 40 },
    format: { type: 'string', enum: ['json', 'html'] },
  },
  required: ['from', 'to'],
  additionalProperties: false,
} as const

export const reportRoutes: FastifyPluginAsync<ReportRoutesOptions> = async (app, options) => {
  const verifiable = options.audit as AuditLogPort & { verify?: () => VerifyReport }

  app.get<{ Querystring: { from: string; to: string; format?: 'json' | 'html' } }>(
    '/api/v1/reports/compliance',
    { schema: { querystring: reportQuery } },
    async (request, reply) => {
      let period
      try {
        period = reportPeriod(request.query.from, request.query.to)
      } catch (error) {
        throw apiError('INVALID_REQUEST', `querystring: ${(error as Error).message}`)
      }
      // NOTE: verify() recomputes the whole chain on this thread; on a large log it blocks the event loop for seconds.
      const verification = typeof verifiable.verify === 'function' ? verifiable.verify() : null
      const report = buildComplianceReport(readReportData(options.database, period), {
        services: Object.values(options.config.services).map((service) => ({ name: service.name, profile: service.profile })),
        verification,
      })
      if (request.query.format !== 'html') return report
      return reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
        .send(renderComplianceHtml(report))
    },
  )
}
