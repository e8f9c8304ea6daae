import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import Database from 'better-sqlite3'
import { verifyDataDir } from '../audit/index.js'
import { DATABASE_FILE } from '../db/client.js'
import { buildComplianceReport } from '../report/build.js'
import { readReportData, reportPeriod } from '../report/data.js'
import { renderComplianceHtml } from '../report/html.js'
import { DEFAULT_DATA_DIR, loadConfigOrReport, UsageError, type Output } from './common.js'

export const REPORT_USAGE = `Usage: blackhole report --from TIME --to TIME [--format json|html] [--data DIR]
                        [--config FILE] [--output FILE]

Writes the compliance report of a period: services with their profile
versions and exposure scores, incidents and responses, operator actions,
the audit log's verification and last signed checkpoint, and the number of
events of each type.

Options:
  --from TIME      start of the period, included: a date (2026-12-01) or an
                   ISO 8601 time (2026-12-01T08:00:00Z)
  --to TIME        end of the period, excluded, in the same form
  --format FORMAT  json (default) or html, a printable page with no
                   external resources
  --data DIR       data folder of the server (default: ./data)
  --config FILE    config whose services are listed even when they did not
                   start in the period (default: only services that did)
  --output FILE    write the report to FILE instead of standard output
  -h, --help       show this help

The database is opened read-only, so the report can run beside serve.`

export async function reportCommand(args: string[], output: Output): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      format: { type: 'string' },
      data: { type: 'string' },
      config: { type: 'string' },
      output: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  })
  if (values.help) {
    output.out(REPORT_USAGE)
    return 0
  }
  if (values.from === undefined || values.to === undefined) throw new UsageError('missing --from or --to', REPORT_USAGE)
  const format = values.format ?? 'json'
  if (format !== 'json' && format !== 'html') throw new UsageError(`invalid --format "${format}": use json or html`, REPORT_USAGE)
  let period
  try {
    period = reportPeriod(values.from, values.to)
  } catch (error) {
    throw new UsageError((error as Error).message, REPORT_USAGE)
  }
  let services: { name: string; profile: string }[] = []
  if (values.config !== undefined) {
    const config = await loadConfigOrReport(values.config, output)
    if (config === null) return 1
    services = Object.values(config.services).map((service) => ({ name: service.name, profile: service.profile }))
  }

  const dataDir = resolve(values.data ?? DEFAULT_DATA_DIR)
  const verification = verifyDataDir(dataDir, { repair: false })
  let db: Database.Database
  try {
    db = new Database(join(dataDir, DATABASE_FILE), { readonly: true, fileMustExist: true })
  } catch (error) {
    output.err(`blackhole report: cannot open the database in ${dataDir}: ${(error as Error).message}; pass the data folder with --data DIR`)
    return 1
  }
  let text: string
  try {
    db.pragma('busy_timeout = 5000')
    const report = buildComplianceReport(readReportData(db, period), { services, verification })
    text = format === 'html' ? renderComplianceHtml(report) : `${JSON.stringify(report, null, 2)}\n`
  } finally {
    db.close()
  }
  if (values.output === undefined) output.out(text.trimEnd())
  else writeFileSync(values.output, text, { mode: 0o640 })
  return 0
}
