import { useQuery } from '@tanstack/react-query'
import { apiRequest } from '../api/apiRequest.js'
import type { ScoreResult } from '../api/types.js'

/** Returns the exposure score of a profile with one line per rated setting. */
export function useProfileScore(name: string) {
  return useQuery({
    queryKey: ['profiles', name, 'score'],
    queryFn: ({ signal }) => apiRequest<ScoreResult & { name: string }>(`/profiles/${encodeURIComponent(name)}/score`, { signal }),
  })
}
