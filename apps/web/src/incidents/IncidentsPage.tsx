import { useId, useState } from 'react'
import { errorMessage } from '../api/ApiError.js'
import type { IncidentStatus } from '../api/types.js'
import { formatTime } from '../ui/format.js'
import { IncidentDetail } from './IncidentDetail.js'
import { useIncidents } from './useIncidents.js'

const statuses: IncidentStatus[] = ['open', 'acknowledged', 'resolved']

/** Incidents with a status filter; the one in the URL opens beside the list. */
export function IncidentsPage({ id }: { id: number | null }) {
  const [status, setStatus] = useState<IncidentStatus | null>(null)
  const incidents = useIncidents(status)
  const selectId = useId()

  return (
    <div className="two-columns incidents-layout">
      <section className="panel" aria-labelledby="incidents-heading">
        <div className="panel-header">
          <h2 id="incidents-heading">Incidents</h2>
          <label htmlFor={selectId}>Status</label>
          <select id={selectId} value={status ?? ''} onChange={(event) => setStatus(event.target.value === '' ? null : (event.target.value as IncidentStatus))}>
            <option value="">Any</option>
            {statuses.map((name) => (
              <option key={name}>{name}</option>
            ))}
          </select>
        </div>
        {incidents.isError ? <p className="error">{errorMessage(incidents.error)}</p> : null}
        {incidents.data?.length === 0 ? <p className="muted">No incidents.</p> : null}
        <table className="compact" aria-label="Incidents">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Rule</th>
              <th scope="col">Service</th>
              <th scope="col">Status</th>
              <th scope="col">Opened</th>
            </tr>
          </thead>
          <tbody>
            {incidents.data?.map((incident) => (
              <tr key={incident.id} aria-current={incident.id === id ? 'true' : undefined} data-incident={incident.id}>
                <td className="numeric">
                  <a href={`#/incidents/${incident.id}`}>#{incident.id}</a>
                </td>
                <td>
                  <span className={`severity severity-badge-${incident.severity}`}>{incident.severity}</span> {incident.rule}
                </td>
                <td>{incident.service ?? '–'}</td>
                <td>{incident.status}</td>
                <td>{formatTime(incident.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      {id !== null ? <IncidentDetail key={id} id={id} /> : <p className="muted panel">Choose an incident to see its timeline.</p>}
    </div>
  )
}
