import { describe, expect, it } from 'vitest'
import { appendSamples, maxCachedEvents, metricsWindow, prependEvent } from '../queryKeys.js'
import type { AuditRecord, ResourceSample } from '../types.js'

function event(seq: number): AuditRecord {
  return {
    seq,
    time: '2026-01-01T00:00:00.000Z',
    service: null,
    pid: null,
    type: 'SUPERVISOR_STARTED',
    severity: 'info',
    description: `event ${seq}`,
    metadata: {},
    actor: null,
    prevHash: '',
    hash: '',
    hmac: null,
  }
}

function sample(service: string, time: number): ResourceSample {
  return {
    service,
    time,
    cpuPercent: 1,
    memoryBytes: 1024,
    memoryLimitBytes: null,
    pids: 1,
    pidsLimit: null,
    oomKills: 0,
  }
}

describe('prependEvent', () => {
  it('should put a new event first', () => {
    const seqs = prependEvent([event(2), event(1)], event(3)).map((e) => e.seq)
    expect(seqs).toEqual([3, 2, 1])
  })

  it('should skip a known seq', () => {
    const list = [event(2), event(1)]
    expect(prependEvent(list, event(2))).toBe(list)
  })

  it('should sort a late event into place', () => {
    const seqs = prependEvent([event(5), event(3)], event(4)).map((e) => e.seq)
    expect(seqs).toEqual([5, 4, 3])
  })

  it('should start an empty cache', () => {
    expect(prependEvent(undefined, event(1)).map((e) => e.seq)).toEqual([1])
  })

  it('should cap the cached events', () => {
    const full = Array.from({ length: maxCachedEvents }, (_, i) => event(maxCachedEvents - i))
    const next = prependEvent(full, event(maxCachedEvents + 1))
    expect(next).toHaveLength(maxCachedEvents)
    expect(next[0]!.seq).toBe(maxCachedEvents + 1)
    expect(next.at(-1)!.seq).toBe(2)
  })
})

describe('appendSamples', () => {
  it('should keep a series per service', () => {
    const history = appendSamples(undefined, [sample('a', 1), sample('b', 1)])
    const next = appendSamples(history, [sample('a', 2)])
    expect(next.a!.map((s) => s.time)).toEqual([1, 2])
    expect(next.b!.map((s) => s.time)).toEqual([1])
  })

  it('should keep the last window', () => {
    let history = appendSamples(undefined, [])
    for (let time = 1; time <= metricsWindow + 5; time++) history = appendSamples(history, [sample('a', time)])
    expect(history.a).toHaveLength(metricsWindow)
    expect(history.a![0]!.time).toBe(6)
    expect(history.a!.at(-1)!.time).toBe(metricsWindow + 5)
  })

  it('should not mutate the previous history', () => {
    const history = appendSamples(undefined, [sample('a', 1)])
    appendSamples(history, [sample('a', 2)])
    expect(history.a).toHaveLength(1)
  })
})
