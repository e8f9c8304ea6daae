import { useQuery } from '@tanstack/react-query'
import { apiRequest } from '../api/apiRequest.js'
import type { HistorySample, MinuteSample } from '../api/types.js'

export type HistoryResponse =
  | { service: string; resolution: 'second'; samples: HistorySample[] }
  | { service: string; resolution: 'minute'; samples: MinuteSample[] }

/** Returns the resource history of the last `minutes` minutes, refreshed every 10 s. */
export function useServiceHistory(name: string, minutes = 10) {
  return useQuery({
    queryKey: ['history', name, minutes],
    queryFn: ({ signal }) => {
      const from = Date.now() - minutes * 60_000
      return apiRequest<HistoryResponse>(`/services/${encodeURIComponent(name)}/history?from=${from}`, { signal })
    },
    refetchInterval: 10_000,
  })
}
