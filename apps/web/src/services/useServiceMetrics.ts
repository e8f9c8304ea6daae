import { skipToken, useQuery } from '@tanstack/react-query'
import { queryKeys, type MetricsHistory } from '../api/queryKeys.js'
import type { ResourceSample } from '../api/types.js'

const noSamples: ResourceSample[] = []

/**
 * Returns the last samples of one service, oldest first. Only the stream's
 * `metrics` messages fill this entry, so the query never fetches.
 */
export function useServiceMetrics(service: string): ResourceSample[] {
  const { data } = useQuery({
    queryKey: queryKeys.metrics,
    queryFn: skipToken,
    initialData: {} as MetricsHistory,
    staleTime: Infinity,
    gcTime: Infinity,
    select: (history: MetricsHistory) => history[service] ?? noSamples,
  })
  return data ?? noSamples
}
