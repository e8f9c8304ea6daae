import type { ServiceState } from '../api/types.js'

/** A coloured label for a service state; the text carries the meaning too. */
export function StateBadge({ state }: { state: ServiceState }) {
  return (
    <span className={`badge badge-${state}`} data-testid="state-badge">
      {state}
    </span>
  )
}
