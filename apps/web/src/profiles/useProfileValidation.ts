import { useQuery } from '@tanstack/react-query'
import { useEffect, useState } from 'react'
import { apiRequest } from '../api/apiRequest.js'
import type { ProfileIssue } from '../api/types.js'

export interface ValidationResponse {
  ok: boolean
  errors: ProfileIssue[]
  score?: number
  rating?: string
}

/**
 * Validates the editor text through POST /api/v1/profiles/validate, 400 ms
 * after the last keystroke. The route needs the operator role, so the
 * caller passes `enabled` false for viewers.
 */
export function useProfileValidation(name: string, yaml: string, enabled: boolean) {
  const [debounced, setDebounced] = useState(yaml)
  useEffect(() => {
    const timer = setTimeout(() => setDebounced(yaml), 400)
    return () => clearTimeout(timer)
  }, [yaml])
  return useQuery({
    queryKey: ['profiles', name, 'validate', debounced],
    queryFn: ({ signal }) =>
      apiRequest<ValidationResponse>('/profiles/validate', { method: 'POST', body: { yaml: debounced, name }, signal }),
    enabled,
    staleTime: Infinity,
    placeholderData: (previous) => previous,
  })
}
