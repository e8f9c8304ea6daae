import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { apiRequest } from '../api/apiRequest.js'
import { errorMessage } from '../api/ApiError.js'
import { useHasRole } from '../auth/useHasRole.js'
import type { AuditRecord, Incident } from '../api/types.js'
import { formatTime } from '../ui/format.js'
import { useIncidentTimeline } from './useIncidentTimeline.js'

/** One incident: its facts, timeline, response, matched events and the acknowledge and resolve buttons. */
export function IncidentDetail({ id }: { id: number }) {
  const queryClient = useQueryClient()
  const detail = useQuery({
    queryKey: ['incidents', 'detail', id],
    queryFn: ({ signal }) => apiRequest<{ incident: Incident; events: AuditRecord[] }>(`/incidents/${id}`, { signal }),
  })
  const incident = detail.data?.incident
  const timeline = useIncidentTimeline(incident)
  const mayChange = useHasRole('operator')
  const change = useMutation({
    mutationFn: (action: 'acknowledge' | 'resolve') => apiRequest<{ incident: Incident }>(`/incidents/${id}/${action}`, { method: 'POST' }),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: ['incidents'] }),
  })

  if (detail.isPending) return <p className="muted">Loading incident {id}…</p>
  if (detail.isError) return <p className="error">{errorMessage(detail.error)}</p>
  const current = detail.data.incident

  return (
    <section className="panel" aria-labelledby="incident-heading" data-testid="incident-detail">
      <div className="panel-header">
        <h2 id="incident-heading">
          Incident #{current.id}: {current.rule}
        </h2>
        <span className={`severity severity-badge-${current.severity}`}>{current.severity}</span>
        <span className="badge" data-testid="incident-status">
          {current.status}
        </span>
      </div>
      <p>{current.summary}</p>
      <dl className="facts">
        <div>
          <dt>Service</dt>
          <dd>{current.service === null ? '–' : <a href={`#/services/${encodeURIComponent(current.service)}`}>{current.service}</a>}</dd>
        </div>
        <div>
          <dt>Response</dt>
          <dd>
            {current.response}: {current.responseResult ?? 'pending'}
          </dd>
        </div>
        <div>
          <dt>Opened</dt>
          <dd>{formatTime(current.createdAt)}</dd>
        </div>
      </dl>
      <div className="toolbar">
        <button type="button" className="button-primary" disabled={!mayChange || current.status !== 'open' || change.isPending} onClick={() => change.mutate('acknowledge')}>
          Acknowledge
        </button>
        <button type="button" disabled={!mayChange || current.status === 'resolved' || change.isPending} onClick={() => change.mutate('resolve')}>
          Resolve
        </button>
        <p role="status" className="action-result">
          {change.isError ? <span className="error">{errorMessage(change.error)}</span> : null}
          {change.isSuccess ? <span className="success">Now {change.data.incident.status}</span> : null}
        </p>
      </div>
      <h3>Timeline</h3>
      {timeline.isError ? <p className="error">{errorMessage(timeline.error)}</p> : null}
      <ol className="timeline" data-testid="incident-timeline">
        {timeline.data?.map((record) => (
          <li key={record.seq}>
            <time className="numeric muted" dateTime={record.time}>
              {formatTime(record.time)}
            </time>{' '}
            <span className="event-type">{record.type}</span> {record.description}
            <span className="muted"> (record #{record.seq}, {record.actor ?? 'no actor'})</span>
          </li>
        ))}
      </ol>
      <h3>Matched events</h3>
      <ul className="plain-list event-list">
        {detail.data.events.map((event) => (
          <li key={event.seq}>
            <time className="numeric muted" dateTime={event.time}>
              {formatTime(event.time)}
            </time>{' '}
            <span className="event-type">{event.type}</span> {event.description}
          </li>
        ))}
      </ul>
      {detail.data.events.length === 0 ? <p className="muted">The matched events were pruned or none were recorded.</p> : null}
    </section>
  )
}
