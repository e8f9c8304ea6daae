import { describe, expect, it } from 'vitest'
import { checkPresetToken } from '../../src/db/tokens.js'

describe('preset admin token', () => {
  it('accepts a long visible token', () => {
    expect(() => checkPresetToken('bh_0123456789abcdef')).not.toThrow()
  })

  it('rejects a short token', () => {
    expect(() => checkPresetToken('a')).toThrow(
      'invalid BLACKHOLE_ADMIN_TOKEN: 1 characters is too short to resist guessing; use at least 16, for example `openssl rand -hex 24`',
    )
  })

  it('rejects a token with a space', () => {
    expect(() => checkPresetToken('has space but long enough')).toThrow(/without spaces/)
  })

  it('rejects a token with a newline', () => {
    expect(() => checkPresetToken('0123456789abcdef\n')).toThrow(/visible ASCII/)
  })
})
