import { describe, expect, it } from 'vitest'
import { bearerToken, FailureLimiter } from '../../src/server/auth.js'

describe('FailureLimiter', () => {
  it('allows ten failures per minute', () => {
    const limiter = new FailureLimiter(10, 60_000)
    for (let failure = 1; failure <= 9; failure++) {
      expect(limiter.recordFailure('192.0.2.1', 1_000 * failure)).toBe(failure)
      expect(limiter.retryAfterMs('192.0.2.1', 1_000 * failure)).toBe(0)
    }
    limiter.recordFailure('192.0.2.1', 10_000)
    // The first failure at t=1 s leaves the window at t=61 s.
    expect(limiter.retryAfterMs('192.0.2.1', 10_000)).toBe(51_000)
    expect(limiter.retryAfterMs('192.0.2.2', 10_000)).toBe(0)
  })

  it('lifts the limit as failures age out', () => {
    const limiter = new FailureLimiter(3, 60_000)
    limiter.recordFailure('192.0.2.1', 0)
    limiter.recordFailure('192.0.2.1', 30_000)
    limiter.recordFailure('192.0.2.1', 40_000)
    expect(limiter.retryAfterMs('192.0.2.1', 59_999)).toBe(1)
    expect(limiter.retryAfterMs('192.0.2.1', 60_000)).toBe(0)
  })

  it('counts rejections per lockout', () => {
    const limiter = new FailureLimiter(1, 60_000)
    limiter.recordFailure('192.0.2.1', 0)
    expect(limiter.recordRejection('192.0.2.1')).toBe(0)
    expect(limiter.recordRejection('192.0.2.1')).toBe(1)
    // A new lockout after the window starts counting again.
    expect(limiter.retryAfterMs('192.0.2.1', 60_000)).toBe(0)
    limiter.recordFailure('192.0.2.1', 60_001)
    expect(limiter.recordRejection('192.0.2.1')).toBe(0)
  })
})

describe('bearerToken', () => {
  it('reads the token after Bearer', () => {
    expect(bearerToken('Bearer bh_abc')).toBe('bh_abc')
    expect(bearerToken('bearer   bh_abc ')).toBe('bh_abc')
  })

  it('returns null for other schemes', () => {
    expect(bearerToken(undefined)).toBeNull()
    expect(bearerToken('Basic dXNlcjpwYXNz')).toBeNull()
    expect(bearerToken('Bearer')).toBeNull()
    expect(bearerToken('Bearer a b')).toBeNull()
  })
})
