import { useQuery } from '@tanstack/react-query'
import { useEffect, useRef, useState } from 'react'
import { apiRequest } from '../api/apiRequest.js'
import { errorMessage } from '../api/ApiError.js'

interface LogsResponse {
  lines: string[]
  size: number
  truncated: boolean
}

/** The last 200 lines of the service's log, refreshed every 3 s unless paused. */
export function LogTail({ name }: { name: string }) {
  const [paused, setPaused] = useState(false)
  const logs = useQuery({
    queryKey: ['logs', name],
    queryFn: ({ signal }) => apiRequest<LogsResponse>(`/services/${encodeURIComponent(name)}/logs?lines=200`, { signal }),
    refetchInterval: paused ? false : 3000,
  })
  const boxRef = useRef<HTMLPreElement>(null)
  const text = logs.data?.lines.join('\n') ?? ''

  // Keeps the newest line in view, unless the reader scrolled up.
  useEffect(() => {
    const box = boxRef.current
    if (box === null) return
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60
    if (nearBottom || box.scrollTop === 0) box.scrollTop = box.scrollHeight
  }, [text])

  return (
    <section className="panel" aria-labelledby="logs-heading">
      <div className="panel-header">
        <h2 id="logs-heading">Log</h2>
        <span className="muted">{logs.data ? `last ${logs.data.lines.length} lines` : ''}</span>
        <button type="button" aria-pressed={paused} onClick={() => setPaused(!paused)}>
          {paused ? 'Resume log' : 'Pause log'}
        </button>
      </div>
      {logs.isError ? <p className="error">Log unavailable: {errorMessage(logs.error)}</p> : null}
      {logs.data?.lines.length === 0 ? <p className="muted">The log is empty.</p> : null}
      <pre className="log-tail" ref={boxRef} tabIndex={0} aria-label={`Log of ${name}`} data-testid="log-tail">
        {text}
      </pre>
    </section>
  )
}
