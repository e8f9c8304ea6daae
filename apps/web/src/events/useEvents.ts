import { useQuery } from '@tanstack/react-query'
import { apiRequest } from '../api/apiRequest.js'
import { queryKeys } from '../api/queryKeys.js'
import type { AuditRecord } from '../api/types.js'

/** Returns the newest audit records: the last 100 from REST plus the stream's. */
export function useEvents() {
  return useQuery({
    queryKey: queryKeys.events,
    queryFn: ({ signal }) => apiRequest<AuditRecord[]>('/events?limit=100', { signal }),
  })
}
