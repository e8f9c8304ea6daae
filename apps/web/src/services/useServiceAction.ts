import { useMutation, useQueryClient } from '@tanstack/react-query'
import { apiRequest } from '../api/apiRequest.js'
import { queryKeys } from '../api/queryKeys.js'
import type { AuditRecord, ServiceAction, ServiceStatus } from '../api/types.js'

interface ActionResponse {
  service: ServiceStatus
}

export interface ServiceActionResult {
  action: ServiceAction
  service: ServiceStatus
  /** The audit record the action produced, when it could be found. */
  record: AuditRecord | null
}

// Each action records one event type; start records SERVICE_STARTED once the process runs.
const recordTypes: Record<ServiceAction, string> = {
  start: 'SERVICE_STARTED',
  stop: 'SERVICE_STOPPED',
  terminate: 'SERVICE_TERMINATED',
  isolate: 'SERVICE_ISOLATED',
  resume: 'SERVICE_RESUMED',
  block: 'SERVICE_BLOCKED',
  unblock: 'SERVICE_UNBLOCKED',
}

/** Finds the newest record of the action's type for the service, newer than `afterSeq`. */
async function findRecord(name: string, action: ServiceAction, afterSeq: number): Promise<AuditRecord | null> {
  const query = new URLSearchParams({ service: name, type: recordTypes[action], limit: '1' })
  try {
    const [record] = await apiRequest<AuditRecord[]>(`/events?${query}`)
    return record !== undefined && record.seq > afterSeq ? record : null
  } catch {
    // The action itself succeeded; a missing record link is not an error.
    return null
  }
}

async function newestSeq(): Promise<number> {
  try {
    const [record] = await apiRequest<AuditRecord[]>('/events?limit=1')
    return record?.seq ?? 0
  } catch {
    return 0
  }
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
      const before = await newestSeq()
      const response = await apiRequest<ActionResponse>(path, { method: 'POST' })
      return { action, service: response.service, record: await findRecord(name, action, before) }
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
