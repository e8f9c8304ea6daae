import { describe, expect, it } from 'vitest'
import { closeReason } from '../../src/server/stream.js'

describe('stream close reason', () => {
  it('keeps short reasons whole', () => {
    expect(closeReason('no auth message within 5 s')).toBe('no auth message within 5 s')
  })

  it('cuts multi-byte text on a character boundary', () => {
    const reason = closeReason(`unknown type "${'é'.repeat(60)}"`)
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123)
    expect(reason).not.toContain('\uFFFD')
    expect(reason.startsWith('unknown type "éé')).toBe(true)
  })

  it('cuts four-byte characters whole', () => {
    const reason = closeReason('🔒'.repeat(40))
    expect(Buffer.byteLength(reason)).toBe(120)
    expect([...reason].length).toBe(30)
  })
})
