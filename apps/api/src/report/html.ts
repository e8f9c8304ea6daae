// Renders a compliance report as one printable HTML page: inline CSS with
// print styles, no scripts and no external resources, every value escaped.

import type { ComplianceReport } from './build.js'

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  const text = value === null || value === undefined ? '' : String(value)
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char]!)
}

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; color: #111; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #999; padding-bottom: 0.2rem; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0; }
th, td { border: 1px solid #bbb; padding: 0.25rem 0.45rem; text-align: left; vertical-align: top; }
th { background: #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.meta { color: #444; }
.ok { color: #0a5f1c; font-weight: 600; }
.bad { color: #a30000; font-weight: 600; }
code { font-family: ui-monospace, monospace; font-size: 0.9em; word-break: break-all; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  h2 { break-after: avoid; }
  tr { break-inside: avoid; }
  th { background: none; }
}
`

function table(headers: string[], rows: string[][], numeric: number[] = []): string {
  if (rows.length === 0) return '<p>None.</p>'
  const head = headers.map((header) => `<th>${escapeHtml(header)}</th>`).join('')
  const body = rows
    .map((row) => `<tr>${row.map((cell, index) => `<td${numeric.includes(index) ? ' class="num"' : ''}>${cell}</td>`).join('')}</tr>`)
    .join('\n')
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`
}

/** Returns the report as a self-contained HTML document. */
export function renderComplianceHtml(report: ComplianceReport): string {
  const e = escapeHtml
  const services = table(
    ['Service', 'Profile', 'Starts', 'Version', 'Exposure', 'Author', 'Created'],
    report.services.flatMap((service) => {
      const versions = service.profileVersions.length > 0 ? service.profileVersions : [null]
      return versions.map((version) => [
        e(service.name), e(service.profile), e(service.starts),
        version === null ? 'not stored' : e(version.version),
        version === null || version.score === null ? 'n/a' : `${e(version.score.toFixed(1))} ${e(version.rating)}`,
        e(version?.author), e(version?.createdAt),
      ])
    }),
    [2],
  )
  const incidents = table(
    ['Id', 'Opened', 'Rule', 'Service', 'Severity', 'Status', 'Response', 'Result', 'Summary'],
    report.incidents.items.map((incident) => [
      e(incident.id), e(incident.createdAt), e(incident.rule), e(incident.service ?? '-'), e(incident.severity),
      e(incident.status), e(incident.response), e(incident.responseResult ?? '-'), e(incident.summary),
    ]),
    [0],
  )
  const actions = table(
    ['Seq', 'Time', 'Actor', 'Event', 'Service', 'Description'],
    report.operatorActions.items.map((action) => [
      e(action.seq), e(action.time), e(action.actor), e(action.type), e(action.service ?? '-'), e(action.description),
    ]),
    [0],
  )
  const shownActions = report.operatorActions.items.length
  const actionsNote = shownActions < report.operatorActions.total
    ? `<p class="meta">The newest ${e(shownActions)} of ${e(report.operatorActions.total)} actions are listed.</p>`
    : ''
  const counts = table(
    ['Event type', 'Count'],
    Object.entries(report.events.byType).map(([type, count]) => [e(type), e(count)]),
    [1],
  )
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${e(report.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Blackhole compliance report</h1>
<p class="meta">Period: ${e(report.period.from)} to ${e(report.period.to)} (end excluded). Generated ${e(report.generatedAt)}.</p>
<h2>Audit log integrity</h2>
${renderAudit(report)}
<h2>Services and profiles</h2>
${services}
<h2>Incidents and responses (${e(report.incidents.total)})</h2>
${incidents}
<h2>Operator actions (${e(report.operatorActions.total)})</h2>
${actionsNote}
${actions}
<h2>Events by type (${e(report.events.total)})</h2>
${counts}
</body>
</html>
`
}

function renderAudit(report: ComplianceReport): string {
  const e = escapeHtml
  const verification = report.audit.verification
  const checkpoint = report.audit.lastCheckpoint
  const lines: string[] = []
  if (verification === null) {
    lines.push('<p>The hash chain was not verified for this report.</p>')
  } else {
    const status = verification.ok ? '<span class="ok">intact</span>' : '<span class="bad">tampered</span>'
    lines.push(`<p>Hash chain: ${status}; ${e(verification.records)} records (seq ${e(verification.firstSeq ?? '-')} to ${e(verification.lastSeq ?? '-')}), ${e(verification.problemCount)} problems.</p>`)
    if (verification.firstProblem !== null) lines.push(`<p class="bad">First problem: ${e(verification.firstProblem)}</p>`)
    for (const note of verification.notes) lines.push(`<p class="meta">Note: ${e(note)}</p>`)
  }
  lines.push(
    checkpoint === null
      ? '<p>No signed checkpoint yet.</p>'
      : `<p>Last signed checkpoint: seq ${e(checkpoint.seq)} at ${e(checkpoint.time)}, hash <code>${e(checkpoint.hash)}</code>.</p>`,
  )
  return lines.join('\n')
}
