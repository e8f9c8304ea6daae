import { useQuery } from '@tanstack/react-query'
import { apiRequest } from '../api/apiRequest.js'
import { errorMessage } from '../api/ApiError.js'
import type { ProcessNode } from '../api/types.js'

interface ProcessesResponse {
  pid: number | null
  total: number
  processes: ProcessNode[]
}

function ProcessItem({ node }: { node: ProcessNode }) {
  return (
    <li>
      <span className="numeric">{node.pid}</span> <code>{node.command.join(' ')}</code>
      <span className="muted"> uid {node.uid ?? '?'}</span>
      {node.children.length > 0 ? (
        <ul>
          {node.children.map((child) => (
            <ProcessItem key={child.pid} node={child} />
          ))}
        </ul>
      ) : null}
    </li>
  )
}

/** The processes in the service's sandbox as a tree, reread every 5 s. */
export function ProcessTree({ name }: { name: string }) {
  const processes = useQuery({
    queryKey: ['processes', name],
    queryFn: ({ signal }) => apiRequest<ProcessesResponse>(`/services/${encodeURIComponent(name)}/processes`, { signal }),
    refetchInterval: 5000,
  })
  return (
    <section className="panel" aria-labelledby="processes-heading">
      <div className="panel-header">
        <h2 id="processes-heading">Processes</h2>
        <span className="muted">{processes.data ? `${processes.data.total} in the sandbox` : ''}</span>
      </div>
      {processes.isError ? <p className="error">Processes unavailable: {errorMessage(processes.error)}</p> : null}
      {processes.data?.pid === null ? <p className="muted">Not running.</p> : null}
      <ul className="process-tree" data-testid="process-tree">
        {processes.data?.processes.map((node) => (
          <ProcessItem key={node.pid} node={node} />
        ))}
      </ul>
    </section>
  )
}
