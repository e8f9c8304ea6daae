import { useQuery } from '@tanstack/react-query'
import { apiRequest } from '../api/apiRequest.js'
import { queryKeys } from '../api/queryKeys.js'
import type { ServiceStatus } from '../api/types.js'

/** Returns the services from GET /api/v1/services, kept current by the stream. */
export function useServices() {
  return useQuery({
    queryKey: queryKeys.services,
    queryFn: ({ signal }) => apiRequest<ServiceStatus[]>('/services', { signal }),
  })
}
