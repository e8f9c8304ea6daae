import { errorMessage } from '../api/ApiError.js'
import { ServiceEvents } from '../events/ServiceEvents.js'
import { ScoreBreakdown } from '../profiles/ScoreBreakdown.js'
import { StateBadge } from '../ui/StateBadge.js'
import { ConnectionsTable } from './ConnectionsTable.js'
import { LogTail } from './LogTail.js'
import { ProcessTree } from './ProcessTree.js'
import { allActions, ServiceActions } from './ServiceActions.js'
import { ServiceCharts } from './ServiceCharts.js'
import { useServices } from './useServices.js'

/** One service: state and actions, live resources, processes, sockets, log, events and profile score. */
export function ServiceDetailPage({ name }: { name: string }) {
  const services = useServices()
  const service = services.data?.find((candidate) => candidate.name === name)

  if (services.isError) return <p className="error">Services unavailable: {errorMessage(services.error)}</p>
  if (services.isPending) return <p className="muted">Loading…</p>
  if (service === undefined) {
    return (
      <section className="panel">
        <h2>Service {name} not found</h2>
        <p>
          <a href="#/">Back to the overview</a>
        </p>
      </section>
    )
  }

  return (
    <>
      <section className="panel service-summary" aria-labelledby="service-heading" data-service={service.name}>
        <div className="panel-header">
          <h2 id="service-heading">{service.name}</h2>
          <StateBadge state={service.state} />
          {service.blocked && service.state !== 'isolated' ? <span className="badge badge-blocked">network cut</span> : null}
        </div>
        <dl className="facts">
          <div>
            <dt>Profile</dt>
            <dd>
              <a href={`#/profiles/${encodeURIComponent(service.profile)}`}>{service.profile}</a>
            </dd>
          </div>
          <div>
            <dt>PID</dt>
            <dd className="numeric">{service.pid ?? '–'}</dd>
          </div>
          <div>
            <dt>UID</dt>
            <dd className="numeric">{service.uid ?? '–'}</dd>
          </div>
          <div>
            <dt>Started</dt>
            <dd>{service.startedAt ?? '–'}</dd>
          </div>
          <div>
            <dt>Restarts</dt>
            <dd className="numeric">{service.restarts}</dd>
          </div>
          <div>
            <dt>Command</dt>
            <dd>
              <code>{service.command.join(' ')}</code>
            </dd>
          </div>
        </dl>
        {service.lastError ? <p className="error">Last error: {service.lastError}</p> : null}
        <ServiceActions service={service} available={allActions} showRecord />
      </section>
      <ServiceCharts name={name} />
      <div className="two-columns">
        <ProcessTree name={name} />
        <ConnectionsTable name={name} />
      </div>
      <LogTail name={name} />
      <div className="two-columns">
        <ServiceEvents name={name} />
        <section className="panel" aria-labelledby="score-heading">
          <div className="panel-header">
            <h2 id="score-heading">Profile {service.profile}</h2>
            <a href={`#/profiles/${encodeURIComponent(service.profile)}`}>Edit</a>
          </div>
          <ScoreBreakdown name={service.profile} />
        </section>
      </div>
    </>
  )
}
