import { useEffect, useState } from 'react'
import type { StreamState } from './StreamClient.js'

function describe(state: StreamState, now: number): string {
  if (state.paused) return 'Live: paused while hidden'
  switch (state.status) {
    case 'open':
      return 'Live'
    case 'connecting':
      return 'Connecting'
    case 'authenticating':
      return 'Signing in to stream'
    case 'reconnecting': {
      const seconds = Math.max(0, Math.ceil(((state.retryAt ?? now) - now) / 1000))
      return `Disconnected, retry ${state.attempt} in ${seconds} s`
    }
    case 'rejected':
      return 'Stream rejected the session'
    case 'closed':
      return 'Stream closed'
  }
}

/** Shows the WebSocket state, with a countdown while it waits to reconnect. */
export function ConnectionStatus({ state }: { state: StreamState }) {
  const [now, setNow] = useState(() => Date.now())

  useEffect(() => {
    if (state.status !== 'reconnecting') return
    const timer = setInterval(() => setNow(Date.now()), 1000)
    return () => clearInterval(timer)
  }, [state.status])

  return (
    <span
      className={`connection connection-${state.status}`}
      role="status"
      title={state.lastClose ? `Last close: ${state.lastClose}` : undefined}
      data-testid="connection-status"
    >
      <span className="connection-dot" aria-hidden="true" />
      {describe(state, now)}
    </span>
  )
}
