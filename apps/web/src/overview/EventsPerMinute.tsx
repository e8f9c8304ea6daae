import { useQuery } from '@tanstack/react-query'
import { apiRequest } from '../api/apiRequest.js'
import { errorMessage } from '../api/ApiError.js'
import type { AuditRecord } from '../api/types.js'
import { BarChart } from '../ui/BarChart.js'
import { bucketPerMinute } from './bucketPerMinute.js'

// The events route returns at most 1000 records per request, so a busier hour
// shows only its newest 1000, and the heading states that.
const sampleSize = 1000

/** Events per minute over the last hour, from the newest events. */
export function EventsPerMinute() {
  const recent = useQuery({
    queryKey: ['events', 'last-hour'],
    queryFn: ({ signal }) => apiRequest<AuditRecord[]>(`/events?limit=${sampleSize}`, { signal }),
    refetchInterval: 30_000,
  })
  const counts = recent.data ? bucketPerMinute(recent.data.map((event) => event.time), Date.now()) : []
  const total = counts.reduce((sum, count) => sum + count, 0)
  const capped = recent.data?.length === sampleSize

  return (
    <section className="panel" aria-labelledby="rate-heading">
      <div className="panel-header">
        <h2 id="rate-heading">Events per minute</h2>
        <span className="muted">
          {total} in the last hour{capped ? ` (newest ${sampleSize} events)` : ''}
        </span>
      </div>
      {recent.isError ? <p className="error">Events unavailable: {errorMessage(recent.error)}</p> : null}
      {recent.data ? <BarChart values={counts} label={`Events per minute over the last hour: ${total} in total`} /> : null}
    </section>
  )
}
