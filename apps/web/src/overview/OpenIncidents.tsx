import { errorMessage } from '../api/ApiError.js'
import { useIncidents } from '../incidents/useIncidents.js'
import { formatTime } from '../ui/format.js'

/** The open incidents: a count and the ten newest, each linking to its page. */
export function OpenIncidents() {
  const incidents = useIncidents('open')
  const list = incidents.data ?? []
  return (
    <section className="panel" aria-labelledby="open-incidents-heading">
      <div className="panel-header">
        <h2 id="open-incidents-heading">Open incidents</h2>
        <span className={list.length > 0 ? 'badge badge-failed' : 'badge badge-running'} data-testid="open-incident-count">
          {list.length}
        </span>
        <a href="#/incidents">All incidents</a>
      </div>
      {incidents.isError ? <p className="error">Incidents unavailable: {errorMessage(incidents.error)}</p> : null}
      {incidents.isSuccess && list.length === 0 ? <p className="muted">No open incidents.</p> : null}
      <ul className="plain-list">
        {list.slice(0, 10).map((incident) => (
          <li key={incident.id}>
            <span className={`severity severity-badge-${incident.severity}`}>{incident.severity}</span>{' '}
            <a href={`#/incidents/${incident.id}`}>
              #{incident.id} {incident.rule}
            </a>{' '}
            <span className="muted">
              {incident.service ?? 'no service'}, {formatTime(incident.createdAt)}
            </span>
          </li>
        ))}
      </ul>
    </section>
  )
}
