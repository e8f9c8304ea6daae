import { useMutation, useQueryClient } from '@tanstack/react-query'
import { apiRequest } from '../api/apiRequest.js'
import { queryKeys } from '../api/queryKeys.js'
import type { ServiceAction, ServiceStatus } from '../api/types.js'

interface ActionResponse {
  service: ServiceStatus
}

export interface ServiceActionResult {
  action: ServiceAction
  service: ServiceStatus
}

/**
 * Runs POST /api/v1/services/:name/:action. The server responds once the
 * action has completed, so the returned status replaces the cached one
 * before the list and the events are refetched.
 */
export function useServiceAction(name: string) {
  const queryClient = useQueryClient()
  return useMutation({
    mutationKey: ['service-action', name],
    mutationFn: async (action: ServiceAction): Promise<ServiceActionResult> => {
      const path = `/services/${encodeURIComponent(name)}/${action}`
      const response = await apiRequest<ActionResponse>(path, { method: 'POST' })
      return { action, service: response.service }
    },
    onSuccess: ({ service }) => {
      queryClient.setQueryData<ServiceStatus[]>(queryKeys.services, (list) =>
        list?.map((existing) => (existing.name === service.name ? service : existing)),
      )
    },
    onSettled: () => {
      void queryClient.invalidateQueries({ queryKey: queryKeys.services })
      void queryClient.invalidateQueries({ queryKey: queryKeys.events })
    },
  })
}
