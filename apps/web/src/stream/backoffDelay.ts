export const initialBackoffMs = 1_000
export const maxBackoffMs = 30_000

/**
 * Returns the wait before reconnect attempt `attempt` (0-based): 1 s
 * doubling up to 30 s, scaled by a random factor between 0.8 and 1.2 so
 * that many dashboards do not reconnect in step after a server restart.
 * The result never exceeds 30 s.
 */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(maxBackoffMs, initialBackoffMs * 2 ** Math.max(0, attempt))
  const jittered = base * (0.8 + 0.4 * random())
  return Math.round(Math.min(maxBackoffMs, jittered))
}
