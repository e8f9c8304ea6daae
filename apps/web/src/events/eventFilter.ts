import type { AuditRecord, Severity } from '../api/types.js'

export interface EventFilter {
  service: string
  type: string
  severity: Severity | ''
  /** Minutes back from now; 0 for all time. */
  sinceMinutes: number
}

export const emptyFilter: EventFilter = { service: '', type: '', severity: '', sinceMinutes: 0 }

/** Returns the query string of the filter for /events and /events/export, without since. */
export function filterQuery(filter: EventFilter): URLSearchParams {
  const query = new URLSearchParams()
  if (filter.service !== '') query.set('service', filter.service)
  if (filter.type !== '') query.set('type', filter.type)
  if (filter.severity !== '') query.set('severity', filter.severity)
  return query
}

/** Returns the ISO start of the filter's time range, or null for all time. */
export function sinceTime(filter: EventFilter, now = Date.now()): string | null {
  return filter.sinceMinutes === 0 ? null : new Date(now - filter.sinceMinutes * 60_000).toISOString()
}

/** Returns true when an event passes the filter. */
export function matchesFilter(event: AuditRecord, filter: EventFilter, since: string | null): boolean {
  if (filter.service !== '' && event.service !== filter.service) return false
  if (filter.type !== '' && event.type !== filter.type) return false
  if (filter.severity !== '' && event.severity !== filter.severity) return false
  return since === null || event.time >= since
}
