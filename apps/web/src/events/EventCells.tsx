import type { AuditRecord } from '../api/types.js'
import { formatTime } from '../ui/format.js'

/** Renders the column headers that go with EventCells. */
export function EventHeaderRow() {
  return (
    <div className="event-row event-head" role="row">
      <span role="columnheader">Time</span>
      <span role="columnheader">Severity</span>
      <span role="columnheader">Type</span>
      <span role="columnheader">Service</span>
      <span role="columnheader">Description</span>
    </div>
  )
}

/** Renders the five cells of one event row: time, severity, type, service and description with its actor. */
export function EventCells({ event }: { event: AuditRecord }) {
  return (
    <>
      <span role="cell" className="numeric">
        <time dateTime={event.time} title={event.time}>
          {formatTime(event.time)}
        </time>
      </span>
      <span role="cell">
        <span className={`severity severity-badge-${event.severity}`}>{event.severity}</span>
      </span>
      <span role="cell" className="event-type">
        {event.type}
      </span>
      <span role="cell">{event.service ?? '–'}</span>
      <span role="cell" className="event-description">
        {event.description}
        {event.actor && !event.description.includes(event.actor) ? <span className="muted"> by {event.actor}</span> : null}
      </span>
    </>
  )
}
