import { useQuery } from '@tanstack/react-query'
import { apiRequest } from '../api/apiRequest.js'
import { queryKeys } from '../api/queryKeys.js'
import type { HostFacts } from '../api/types.js'

/** Returns the host facts from GET /api/v1/host; they change only on restart. */
export function useHost() {
  return useQuery({
    queryKey: queryKeys.host,
    queryFn: ({ signal }) => apiRequest<HostFacts>('/host', { signal }),
    staleTime: Infinity,
  })
}
