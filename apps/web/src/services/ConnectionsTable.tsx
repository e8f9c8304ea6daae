import { useQuery } from '@tanstack/react-query'
import { apiRequest } from '../api/apiRequest.js'
import { errorMessage } from '../api/ApiError.js'
import type { Connection, Listener } from '../api/types.js'

interface ConnectionsResponse {
  pid: number | null
  listeners: Listener[]
  connections: Connection[]
}

/** Listening sockets and open connections of the service's network namespace, reread every 5 s. */
export function ConnectionsTable({ name }: { name: string }) {
  const sockets = useQuery({
    queryKey: ['connections', name],
    queryFn: ({ signal }) => apiRequest<ConnectionsResponse>(`/services/${encodeURIComponent(name)}/connections`, { signal }),
    refetchInterval: 5000,
  })
  const data = sockets.data
  return (
    <section className="panel" aria-labelledby="connections-heading">
      <div className="panel-header">
        <h2 id="connections-heading">Network</h2>
      </div>
      {sockets.isError ? <p className="error">Sockets unavailable: {errorMessage(sockets.error)}</p> : null}
      {data?.pid === null ? <p className="muted">Not running.</p> : null}
      {data && data.pid !== null ? (
        <div className="table-scroll">
          <table className="compact nowrap">
            <caption className="muted">
              {data.listeners.length} listening, {data.connections.length} connected
            </caption>
            <thead>
              <tr>
                <th scope="col">Protocol</th>
                <th scope="col">Local</th>
                <th scope="col">Remote</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {data.listeners.map((listener) => (
                <tr key={`l${listener.inode}`}>
                  <td>{listener.protocol}</td>
                  <td className="numeric">{listener.protocol === 'unix' ? listener.address : `${listener.address}:${listener.port}`}</td>
                  <td>–</td>
                  <td>LISTEN</td>
                </tr>
              ))}
              {data.connections.map((connection) => (
                <tr key={`c${connection.inode}`}>
                  <td>{connection.protocol}</td>
                  <td className="numeric">{connection.protocol === 'unix' ? connection.localAddress : `${connection.localAddress}:${connection.localPort}`}</td>
                  <td className="numeric">{connection.remoteAddress === '' ? '–' : `${connection.remoteAddress}:${connection.remotePort}`}</td>
                  <td>{connection.state}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  )
}
