import { errorMessage } from '../api/ApiError.js'
import { formatHostFact, humanizeKey } from './formatHostFact.js'
import { useHost } from './useHost.js'

// The native addon's own report repeats the other facts in more detail
// than a header line can hold.
const hiddenFacts = new Set(['native'])

/** The facts of GET /api/v1/host as a row of labelled values. */
export function HostFacts() {
  const host = useHost()
  if (host.isPending) return <p className="host-facts muted">Loading host facts…</p>
  if (host.isError) {
    return (
      <p className="host-facts error" role="alert">
        Host facts unavailable: {errorMessage(host.error)}
      </p>
    )
  }
  return (
    <dl className="host-facts" aria-label="Host facts">
      {Object.entries(host.data)
        .filter(([key]) => !hiddenFacts.has(key))
        .map(([key, value]) => (
          <div key={key} className="host-fact">
            <dt>{humanizeKey(key)}</dt>
            <dd>{formatHostFact(value)}</dd>
          </div>
        ))}
    </dl>
  )
}
