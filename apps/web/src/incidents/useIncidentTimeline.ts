import { useQuery } from '@tanstack/react-query'
import { apiRequest } from '../api/apiRequest.js'
import type { AuditRecord, Incident } from '../api/types.js'

/** The audit record types an incident's life writes, in the order they happen. */
export const timelineTypes = ['INCIDENT_OPENED', 'RESPONSE_TAKEN', 'RESPONSE_FAILED', 'INCIDENT_ACKNOWLEDGED', 'INCIDENT_RESOLVED'] as const

/**
 * Returns the audit records of one incident, oldest first: one query per
 * record type, narrowed to the incident's service and then to its id.
 */
export function useIncidentTimeline(incident: Incident | undefined) {
  return useQuery({
    queryKey: ['incident-timeline', incident?.id, incident?.status, incident?.responseResult],
    enabled: incident !== undefined,
    queryFn: async ({ signal }) => {
      const found: AuditRecord[] = []
      for (const type of timelineTypes) {
        const query = new URLSearchParams({ type, limit: '500' })
        if (incident!.service !== null) query.set('service', incident!.service)
        const records = await apiRequest<AuditRecord[]>(`/events?${query}`, { signal })
        found.push(...records.filter((record) => record.metadata.incidentId === incident!.id))
      }
      return found.sort((a, b) => a.seq - b.seq)
    },
  })
}
