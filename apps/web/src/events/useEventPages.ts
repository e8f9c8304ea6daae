import { useInfiniteQuery } from '@tanstack/react-query'
import { apiRequest } from '../api/apiRequest.js'
import type { AuditRecord } from '../api/types.js'
import { filterQuery, type EventFilter } from './eventFilter.js'

export const eventPageSize = 200

/**
 * Pages through stored events newest first with keyset paging: each page
 * requests the events before the last seq of the one before, so a page
 * deep in a million events costs the same as the first.
 */
export function useEventPages(filter: EventFilter, since: string | null) {
  return useInfiniteQuery({
    queryKey: ['event-pages', filter, since],
    initialPageParam: null as number | null,
    queryFn: ({ pageParam, signal }) => {
      const query = filterQuery(filter)
      query.set('limit', String(eventPageSize))
      if (pageParam !== null) query.set('before', String(pageParam))
      return apiRequest<AuditRecord[]>(`/events?${query}`, { signal })
    },
    getNextPageParam: (lastPage) => {
      const last = lastPage.at(-1)
      if (lastPage.length < eventPageSize || last === undefined) return undefined
      // Pages are newest first, so an event older than the range ends the paging.
      if (since !== null && last.time < since) return undefined
      return last.seq
    },
    // New events arrive through the stream; refetching every loaded page would cost more than it shows.
    staleTime: Infinity,
  })
}
