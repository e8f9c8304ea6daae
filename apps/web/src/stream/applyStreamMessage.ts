import type { QueryClient } from '@tanstack/react-query'
import { appendSamples, prependEvent, queryKeys, type MetricsHistory } from '../api/queryKeys.js'
import type { AuditRecord, ServiceStatus, StreamMessage } from '../api/types.js'

/** Replaces the service with the same name, or appends a new one. */
function upsertService(list: ServiceStatus[] | undefined, service: ServiceStatus): ServiceStatus[] {
  const services = list ?? []
  const index = services.findIndex((existing) => existing.name === service.name)
  if (index === -1) return [...services, service]
  return services.map((existing, i) => (i === index ? service : existing))
}

/**
 * Writes one stream message into the query cache the REST hooks read.
 * `reconnected` marks a hello after the first one of this session.
 */
export function applyStreamMessage(queryClient: QueryClient, message: StreamMessage, reconnected = false): void {
  switch (message.type) {
    case 'hello':
      queryClient.setQueryData<ServiceStatus[]>(queryKeys.services, message.services)
      // Events may have been missed while the socket was down.
      if (reconnected) void queryClient.invalidateQueries({ queryKey: queryKeys.events })
      break
    case 'service':
      queryClient.setQueryData<ServiceStatus[]>(queryKeys.services, (list) =>
        upsertService(list, message.service),
      )
      break
    case 'event':
      queryClient.setQueryData<AuditRecord[]>(queryKeys.events, (list) =>
        prependEvent(list, message.event),
      )
      break
    case 'metrics':
      queryClient.setQueryData<MetricsHistory>(queryKeys.metrics, (history) =>
        appendSamples(history, message.samples),
      )
      break
  }
}
