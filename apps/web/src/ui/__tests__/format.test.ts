import { describe, expect, it } from 'vitest'
import { formatBytes, formatPercent, formatTime } from '../format.js'

describe('formatBytes', () => {
  it('should use binary units', () => {
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(1023)).toBe('1023 B')
    expect(formatBytes(1536)).toBe('1.5 KiB')
    expect(formatBytes(256 * 1024 * 1024)).toBe('256 MiB')
    expect(formatBytes(3 * 1024 ** 5)).toBe('3072 TiB')
  })
})

describe('formatPercent', () => {
  it('should keep one decimal below 100', () => {
    expect(formatPercent(12.345)).toBe('12.3 %')
    expect(formatPercent(0)).toBe('0.0 %')
    expect(formatPercent(150.4)).toBe('150 %')
  })
})

describe('formatTime', () => {
  it('should return invalid input unchanged', () => {
    expect(formatTime('not a time')).toBe('not a time')
  })

  it('should add the date for another day', () => {
    const now = new Date('2026-06-02T12:00:00Z')
    expect(formatTime('2026-06-02T11:00:00Z', now)).not.toContain('2026')
    expect(formatTime('2020-01-01T11:00:00Z', now)).toContain('2020')
  })
})
