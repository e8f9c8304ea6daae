import { useQuery } from '@tanstack/react-query'
import { apiRequest } from '../api/apiRequest.js'
import type { Incident, IncidentStatus } from '../api/types.js'

/** Returns incidents from GET /api/v1/incidents, newest first, optionally of one status. */
export function useIncidents(status: IncidentStatus | null, limit = 100) {
  const query = new URLSearchParams({ limit: String(limit) })
  if (status !== null) query.set('status', status)
  return useQuery({
    queryKey: ['incidents', status, limit],
    queryFn: ({ signal }) => apiRequest<{ incidents: Incident[] }>(`/incidents?${query}`, { signal }),
    select: (body) => body.incidents,
    refetchInterval: 10_000,
  })
}
