import { describe, expect, it } from 'vitest'
import { formatSelftest, interpretStatus, selftestStatus, type SelftestReport } from '../../src/diagnostics/selftest.js'

const probe = { heldDetail: 'open failed', escapeDetail: 'opened it', heldBySignal: undefined }

describe('interpretStatus', () => {
  it.each([
    [0, 'held', 'open failed'],
    [1, 'not held', 'opened it'],
    [3, 'skipped', 'this host cannot show the case'],
    [4, 'not held', 'the probe timed out, so the result is unknown'],
    [11, 'held', 'open failed: EPERM'],
    [23, 'held', 'open failed: EACCES'],
    [21, 'held', 'open failed: EAGAIN'],
    [137, 'not held', 'the probe was killed by SIGKILL, so the result is unknown'],
    [2, 'not held', 'the probe ended with unexpected status 2'],
  ])('reads status %i', (status, expected, detail) => {
    const result = interpretStatus(probe, status)
    expect(result.status).toBe(expected)
    expect(result.detail).toBe(detail)
  })

  it('reads the expected signal as held', () => {
    const result = interpretStatus({ ...probe, heldBySignal: 'SIGKILL' }, 137)
    expect(result.status).toBe('held')
    expect(result.detail).toBe('killed by SIGKILL at the limit')
  })
})

describe('formatSelftest', () => {
  const report: SelftestReport = {
    profile: 'strict',
    interpreter: 'python3',
    results: [
      { category: 'privilege', name: 'setuid(0)', status: 'held', detail: 'setuid(0) failed: EPERM', denials: 0 },
      { category: 'network', name: 'open raw sockets', status: 'not held', detail: 'opened a raw or packet socket', denials: 0 },
      { category: 'resources', name: 'allocate past max_memory', status: 'skipped', detail: 'the profile sets no max_memory', denials: 0 },
      { category: 'privilege', name: 'ptrace', status: 'held', detail: 'failed: EPERM', denials: 2 },
    ],
  }

  it('prints one line per probe', () => {
    const lines = formatSelftest(report).split('\n')
    expect(lines).toHaveLength(5)
    expect(lines[0]).toBe('HELD      privilege    setuid(0)                 setuid(0) failed: EPERM')
    expect(lines[1]).toBe('NOT HELD  network      open raw sockets          opened a raw or packet socket')
    expect(lines[2]).toBe('SKIP      resources    allocate past max_memory  the profile sets no max_memory')
    expect(lines[3]).toBe('HELD      privilege    ptrace                    failed: EPERM (2 seccomp denials reported)')
    expect(lines[4]).toBe('profile strict (probes in python3): 2 held, 1 not held, 1 skipped')
  })

  it('exits 1 when a probe is not held', () => {
    expect(selftestStatus(report)).toBe(1)
    const first = report.results[0]!
    expect(selftestStatus({ ...report, results: [first] })).toBe(0)
  })
})
