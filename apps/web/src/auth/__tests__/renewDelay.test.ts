import { describe, expect, it } from 'vitest'
import { minRenewDelayMs, renewDelay, renewMarginMs } from '../renewDelay.js'

const now = Date.parse('2026-01-01T00:00:00.000Z')

describe('renewDelay', () => {
  it('should renew the margin before expiry', () => {
    const expiresAt = new Date(now + 60 * 60_000).toISOString()
    expect(renewDelay(expiresAt, now)).toBe(60 * 60_000 - renewMarginMs)
  })

  it('should wait the minimum when expiry is near', () => {
    const expiresAt = new Date(now + 60_000).toISOString()
    expect(renewDelay(expiresAt, now)).toBe(minRenewDelayMs)
  })

  it('should wait the minimum when already expired', () => {
    const expiresAt = new Date(now - 60_000).toISOString()
    expect(renewDelay(expiresAt, now)).toBe(minRenewDelayMs)
  })

  it('should cap the delay at the timer maximum', () => {
    const expiresAt = new Date(now + 60 * 86_400_000).toISOString()
    expect(renewDelay(expiresAt, now)).toBe(2 ** 31 - 1)
  })

  it('should not renew without an expiry', () => {
    expect(renewDelay(null, now)).toBe(false)
  })

  it('should not renew an unreadable expiry', () => {
    expect(renewDelay('tomorrow', now)).toBe(false)
  })
})
