import { useQuery } from '@tanstack/react-query'
import { apiRequest } from '../api/apiRequest.js'
import { errorMessage } from '../api/ApiError.js'
import type { AuditRecord } from '../api/types.js'
import { formatTime } from '../ui/format.js'

/** The newest 50 events of one service, reread every 5 s. */
export function ServiceEvents({ name }: { name: string }) {
  const events = useQuery({
    queryKey: ['events', 'service', name],
    queryFn: ({ signal }) => apiRequest<AuditRecord[]>(`/events?service=${encodeURIComponent(name)}&limit=50`, { signal }),
    refetchInterval: 5000,
  })
  return (
    <section className="panel" aria-labelledby="service-events-heading">
      <div className="panel-header">
        <h2 id="service-events-heading">Events</h2>
        <a href="#/events">All events</a>
      </div>
      {events.isError ? <p className="error">Events unavailable: {errorMessage(events.error)}</p> : null}
      {events.data?.length === 0 ? <p className="muted">No events yet.</p> : null}
      <ul className="plain-list event-list">
        {events.data?.map((event) => (
          <li key={event.seq}>
            <time className="numeric muted" dateTime={event.time}>
              {formatTime(event.time)}
            </time>{' '}
            <span className={`severity severity-badge-${event.severity}`}>{event.severity}</span>{' '}
            <span className="event-type">{event.type}</span> {event.description}
          </li>
        ))}
      </ul>
    </section>
  )
}
