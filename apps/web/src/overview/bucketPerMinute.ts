/**
 * Counts timestamps per minute over the `minutes` minutes that end at
 * `now`, oldest first; times outside that window are ignored.
 */
export function bucketPerMinute(times: string[], now: number, minutes = 60): number[] {
  const counts = new Array<number>(minutes).fill(0)
  const start = now - minutes * 60_000
  for (const time of times) {
    const ms = Date.parse(time)
    if (!(ms >= start && ms <= now)) continue
    const index = Math.min(minutes - 1, Math.floor((ms - start) / 60_000))
    counts[index]! += 1
  }
  return counts
}
