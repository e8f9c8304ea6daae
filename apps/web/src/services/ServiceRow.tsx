import { metricsWindow } from '../api/queryKeys.js'
import type { ServiceStatus } from '../api/types.js'
import { formatBytes, formatPercent } from '../ui/format.js'
import { Sparkline } from '../ui/Sparkline.js'
import { StateBadge } from '../ui/StateBadge.js'
import { ServiceActions } from './ServiceActions.js'
import { useServiceMetrics } from './useServiceMetrics.js'

const columnCount = 8

// Destructive actions live on the service page, where they ask for the name.
const overviewActions = ['start', 'resume'] as const

/** One service: its facts, live CPU and memory, actions and last error. */
export function ServiceRow({ service }: { service: ServiceStatus }) {
  const samples = useServiceMetrics(service.name)
  const latest = samples.at(-1)
  const live = service.state === 'running' || service.state === 'isolated'
  const memoryLimit = latest?.memoryLimitBytes ?? null

  return (
    <>
      <tr data-service={service.name}>
        <th scope="row" data-label="Name">
          <a href={`#/services/${encodeURIComponent(service.name)}`}>{service.name}</a>
        </th>
        <td data-label="Profile">{service.profile}</td>
        <td data-label="State">
          <StateBadge state={service.state} />
          {service.blocked && service.state !== 'isolated' ? <span className="badge badge-blocked">network cut</span> : null}
        </td>
        <td data-label="PID" className="numeric">
          {service.pid ?? '–'}
        </td>
        <td data-label="UID" className="numeric">
          {service.uid ?? '–'}
        </td>
        <td data-label="CPU" className="metric">
          <span className="numeric metric-cpu">{live && latest ? formatPercent(latest.cpuPercent) : '–'}</span>
          {live ? (
            <Sparkline
              values={samples.map((sample) => sample.cpuPercent)}
              minScale={10}
              slots={metricsWindow}
              label={`CPU of ${service.name} over the last ${samples.length} seconds`}
            />
          ) : null}
        </td>
        <td data-label="Memory" className="metric">
          <span className="numeric metric-memory">
            {live && latest ? formatBytes(latest.memoryBytes) : '–'}
            {live && memoryLimit ? <span className="muted"> / {formatBytes(memoryLimit)}</span> : null}
          </span>
          {live ? (
            <Sparkline
              values={samples.map((sample) => sample.memoryBytes)}
              slots={metricsWindow}
              label={`Memory of ${service.name} over the last ${samples.length} seconds`}
            />
          ) : null}
        </td>
        <td data-label="Actions">
          <ServiceActions service={service} available={overviewActions} />
          <a className="detail-link" href={`#/services/${encodeURIComponent(service.name)}`} aria-label={`Details and actions of ${service.name}`}>
            Details
          </a>
        </td>
      </tr>
      {service.state === 'failed' && service.lastError ? (
        <tr className="error-row">
          <td colSpan={columnCount}>
            <span className="error">Last error: {service.lastError}</span>
          </td>
        </tr>
      ) : null}
    </>
  )
}
