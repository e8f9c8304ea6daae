import { describe, expect, it } from 'vitest'
import { bucketPerMinute } from '../bucketPerMinute.js'

describe('bucketPerMinute', () => {
  const now = Date.parse('2026-01-01T12:00:00Z')

  it('should count events into minutes, oldest first', () => {
    const counts = bucketPerMinute(['2026-01-01T11:59:30Z', '2026-01-01T11:59:10Z', '2026-01-01T11:00:30Z'], now)
    expect(counts).toHaveLength(60)
    expect(counts[59]).toBe(2)
    expect(counts[0]).toBe(1)
    expect(counts.reduce((a, b) => a + b)).toBe(3)
  })

  it('should ignore events outside the window', () => {
    const counts = bucketPerMinute(['2026-01-01T10:00:00Z', '2026-01-01T12:00:01Z', 'not a time'], now)
    expect(counts.reduce((a, b) => a + b)).toBe(0)
  })
})
