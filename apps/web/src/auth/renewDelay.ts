/** How long before expiry an idle tab renews its session. */
export const renewMarginMs = 5 * 60_000

/** Renewals closer together than this would only load the server. */
export const minRenewDelayMs = 10_000

// setTimeout fires at once for delays above 2^31 - 1 ms.
const maxTimerMs = 2 ** 31 - 1

/**
 * Returns the milliseconds to wait before renewing a session that lapses at
 * `expiresAt` (an ISO time), so the renewal lands `renewMarginMs` before
 * it. For a session without an expiry, or with an unreadable one, it
 * returns false, which means no renewal.
 */
export function renewDelay(expiresAt: string | null, now: number): number | false {
  if (expiresAt === null) return false
  const expires = Date.parse(expiresAt)
  if (Number.isNaN(expires)) return false
  const delay = expires - renewMarginMs - now
  return Math.min(maxTimerMs, Math.max(minRenewDelayMs, delay))
}
