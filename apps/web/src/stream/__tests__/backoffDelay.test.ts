import { describe, expect, it } from 'vitest'
import { backoffDelay, maxBackoffMs } from '../backoffDelay.js'

const middle = () => 0.5

describe('backoffDelay', () => {
  it('should start at one second', () => {
    expect(backoffDelay(0, middle)).toBe(1_000)
  })

  it('should double per attempt', () => {
    expect(backoffDelay(1, middle)).toBe(2_000)
    expect(backoffDelay(2, middle)).toBe(4_000)
    expect(backoffDelay(4, middle)).toBe(16_000)
  })

  it('should cap at thirty seconds', () => {
    expect(backoffDelay(5, middle)).toBe(maxBackoffMs)
    expect(backoffDelay(50, middle)).toBe(maxBackoffMs)
    expect(backoffDelay(50, () => 0.999)).toBe(maxBackoffMs)
  })

  it('should jitter by twenty percent', () => {
    expect(backoffDelay(0, () => 0)).toBe(800)
    expect(backoffDelay(0, () => 1)).toBe(1_200)
    expect(backoffDelay(3, () => 0)).toBe(6_400)
  })

  it('should treat a negative attempt as the first', () => {
    expect(backoffDelay(-3, middle)).toBe(1_000)
  })
})
