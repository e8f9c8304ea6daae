import { ApiError } from '../api/ApiError.js'
import { downloadBlob } from '../profiles/downloadText.js'
import { filterQuery, type EventFilter } from './eventFilter.js'

/** Downloads the events matching the filter from GET /api/v1/events/export as JSON Lines or CSV. */
export async function exportEvents(filter: EventFilter, since: string | null, format: 'jsonl' | 'csv', max: number): Promise<void> {
  const query = filterQuery(filter)
  query.set('format', format)
  query.set('max', String(max))
  if (since !== null) query.set('since', since)
  // The session cookie authenticates this GET; it needs no CSRF token.
  const response = await fetch(`/api/v1/events/export?${query}`, { credentials: 'same-origin' })
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as { error?: string; message?: string } | null
    throw new ApiError(response.status, body?.error ?? `HTTP_${response.status}`, body?.message ?? `export failed with HTTP ${response.status}`)
  }
  const disposition = response.headers.get('content-disposition') ?? ''
  const fileName = /filename="([^"]+)"/.exec(disposition)?.[1] ?? `blackhole-events.${format}`
  downloadBlob(await response.blob(), fileName)
}
