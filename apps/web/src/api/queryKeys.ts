import type { AuditRecord, ResourceSample } from './types.js'

// One place for the cache keys, because the REST hooks and the WebSocket
// handler write to the same entries.
export const queryKeys = {
  services: ['services'] as const,
  events: ['events'] as const,
  host: ['host'] as const,
  metrics: ['metrics'] as const,
  session: ['session'] as const,
}

/** Events kept in the cache: the first page plus what the stream adds. */
export const maxCachedEvents = 1000

/** Samples kept per service for the sparklines, one a second. */
export const metricsWindow = 60

/** The last `metricsWindow` samples of each service, oldest first. */
export type MetricsHistory = Record<string, ResourceSample[]>

/** Inserts `event` into a newest-first list unless its seq is already there. */
export function prependEvent(events: AuditRecord[] | undefined, event: AuditRecord): AuditRecord[] {
  const list = events ?? []
  if (list.some((existing) => existing.seq === event.seq)) return list
  const next = [event, ...list]
  // Events usually arrive in order; sorting only when one does not keeps
  // the common path cheap.
  if (list.length > 0 && list[0]!.seq > event.seq) next.sort((a, b) => b.seq - a.seq)
  return next.slice(0, maxCachedEvents)
}

/** Appends samples to each service's series, keeping the last `metricsWindow`. */
export function appendSamples(history: MetricsHistory | undefined, samples: ResourceSample[]): MetricsHistory {
  const next: MetricsHistory = { ...history }
  for (const sample of samples) {
    const series = next[sample.service] ?? []
    next[sample.service] = [...series, sample].slice(-metricsWindow)
  }
  return next
}
