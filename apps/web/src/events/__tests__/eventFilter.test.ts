import { describe, expect, it } from 'vitest'
import type { AuditRecord } from '../../api/types.js'
import { emptyFilter, filterQuery, matchesFilter, sinceTime } from '../eventFilter.js'

const event: AuditRecord = {
  seq: 5,
  time: '2026-01-01T12:00:00.000Z',
  service: 'identity',
  pid: 1,
  type: 'SERVICE_STARTED',
  severity: 'info',
  description: 'started',
  metadata: {},
  actor: null,
  prevHash: 'a',
  hash: 'b',
  hmac: null,
}

describe('eventFilter', () => {
  it('should build the query from set fields only', () => {
    expect(filterQuery(emptyFilter).toString()).toBe('')
    expect(filterQuery({ ...emptyFilter, service: 'identity', type: 'OOM_KILL', severity: 'high' }).toString()).toBe(
      'service=identity&type=OOM_KILL&severity=high',
    )
  })

  it('should compute the range start', () => {
    expect(sinceTime(emptyFilter)).toBeNull()
    expect(sinceTime({ ...emptyFilter, sinceMinutes: 60 }, Date.parse('2026-01-01T12:00:00Z'))).toBe('2026-01-01T11:00:00.000Z')
  })

  it('should match each field', () => {
    expect(matchesFilter(event, emptyFilter, null)).toBe(true)
    expect(matchesFilter(event, { ...emptyFilter, service: 'storage' }, null)).toBe(false)
    expect(matchesFilter(event, { ...emptyFilter, type: 'OOM_KILL' }, null)).toBe(false)
    expect(matchesFilter(event, { ...emptyFilter, severity: 'high' }, null)).toBe(false)
    expect(matchesFilter(event, emptyFilter, '2026-01-01T12:00:01.000Z')).toBe(false)
    expect(matchesFilter(event, emptyFilter, '2026-01-01T11:00:00.000Z')).toBe(true)
  })
})
