// Groups the report data into the compliance report: services with the
// profile versions in effect and their exposure scores, incidents and
// responses, operator actions, the audit log's verification and event counts.

import { scoreProfile } from '@blackhole/policy'
import type { VerifyReport } from '../audit/verify.js'
import { validateProfileYaml } from '../server/routes/profile-yaml.js'
import type { Severity } from '../types.js'
import type { ReportCheckpoint, ReportData, ReportIncident, ReportPeriod } from './data.js'

export interface ReportProfileVersionEntry {
  version: number
  sha256: string
  author: string
  createdAt: string
  /** Exposure score from 0 (safe) to 10; null when the stored text no longer parses. */
  score: number | null
  rating: string | null
}

export interface ReportService {
  name: string
  profile: string
  /** Number of starts in the period. */
  starts: number
  /** Versions in effect during the period: the one current at its start and any created within it. */
  profileVersions: ReportProfileVersionEntry[]
}

export interface ReportOperatorAction {
  seq: number
  time: string
  actor: string
  type: string
  service: string | null
  description: string
}

export interface ReportVerification {
  ok: boolean
  records: number
  firstSeq: number | null
  lastSeq: number | null
  problemCount: number
  firstProblem: string | null
  notes: string[]
}

export interface ComplianceReport {
  title: string
  generatedAt: string
  period: ReportPeriod
  services: ReportService[]
  incidents: {
    total: number
    bySeverity: Partial<Record<Severity, number>>
    byStatus: Record<string, number>
    items: ReportIncident[]
  }
  operatorActions: { total: number; items: ReportOperatorAction[] }
  audit: {
    /** Null when the report was made without verifying the log. */
    verification: ReportVerification | null
    lastCheckpoint: ReportCheckpoint | null
  }
  events: { total: number; byType: Record<string, number> }
}

export interface BuildReportOptions {
  /** Services of the config and their profiles; services seen only in the events are added. */
  services?: { name: string; profile: string }[]
  verification?: VerifyReport | null
  /** ISO 8601; now when omitted. */
  generatedAt?: string
}

/** Builds the report from the data of its period. */
export function buildComplianceReport(data: ReportData, options: BuildReportOptions = {}): ComplianceReport {
  const { period } = data
  const profiles = new Map<string, string>()
  const starts = new Map<string, number>()
  for (const service of options.services ?? []) profiles.set(service.name, service.profile)
  for (const start of data.serviceStarts) {
    if (start.service === null) continue
    starts.set(start.service, (starts.get(start.service) ?? 0) + 1)
    const profile = start.metadata.profile
    if (!profiles.has(start.service) && typeof profile === 'string') profiles.set(start.service, profile)
  }
  const scores = new Map<string, { score: number | null; rating: string | null }>()
  const services = [...profiles]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, profile]) => ({
      name, profile, starts: starts.get(name) ?? 0,
      profileVersions: versionsInEffect(data, profile, period).map((version) => {
        const key = `${profile}\0${version.sha256}`
        if (!scores.has(key)) scores.set(key, scoreYaml(version.yaml, profile))
        const { score, rating } = scores.get(key)!
        return { version: version.version, sha256: version.sha256, author: version.author, createdAt: version.createdAt, score, rating }
      }),
    }))

  const bySeverity: Partial<Record<Severity, number>> = {}
  const byStatus: Record<string, number> = {}
  for (const incident of data.incidents) {
    bySeverity[incident.severity] = (bySeverity[incident.severity] ?? 0) + 1
    byStatus[incident.status] = (byStatus[incident.status] ?? 0) + 1
  }
  const verification = options.verification ?? null
  return {
    title: `Blackhole compliance report, ${period.from} to ${period.to}`,
    generatedAt: options.generatedAt ?? new Date().toISOString(),
    period,
    services,
    incidents: { total: data.incidents.length, bySeverity, byStatus, items: data.incidents },
    operatorActions: {
      total: data.operatorActionCount,
      items: data.operatorActions.map((record) => ({
        seq: record.seq, time: record.time, actor: record.actor ?? '', type: record.type, service: record.service, description: record.description,
      })),
    },
    audit: {
      verification: verification === null ? null : {
        ok: verification.ok, records: verification.records, firstSeq: verification.firstSeq, lastSeq: verification.lastSeq,
        problemCount: verification.problemCount,
        firstProblem: verification.firstBad === null ? null : `record ${verification.firstBad.seq} ${verification.firstBad.kind}: ${verification.firstBad.message}`,
        notes: verification.notes,
      },
      lastCheckpoint: data.lastCheckpoint,
    },
    events: { total: Object.values(data.eventCounts).reduce((sum, count) => sum + count, 0), byType: data.eventCounts },
  }
}

function versionsInEffect(data: ReportData, profile: string, period: ReportPeriod) {
  const versions = data.profileVersions.filter((version) => version.profile === profile)
  const before = versions.filter((version) => version.createdAt < period.from)
  const within = versions.filter((version) => version.createdAt >= period.from && version.createdAt < period.to)
  const current = before[before.length - 1]
  return current === undefined ? within : [current, ...within]
}

function scoreYaml(yaml: string, profile: string): { score: number | null; rating: string | null } {
  const result = validateProfileYaml(yaml, profile)
  if (!result.ok) return { score: null, rating: null }
  const score = scoreProfile(result.profile)
  return { score: score.score, rating: score.rating }
}
