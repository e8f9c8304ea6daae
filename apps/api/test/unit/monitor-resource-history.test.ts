// Resource history: the ring buffer, minute downsampling, the ResourceMinute
// table (through the real migrations on a temporary SQLite file) and the
// choice of resolution in range().

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EventEmitter } from 'node:events'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MIGRATIONS_DIR } from '../../src/db/client.js'
import { applyMigrations } from '../../src/db/migrate.js'
import { downsample, ResourceHistory, RingBuffer, type HistorySample } from '../../src/monitor/resource-history.js'

const MINUTE = 60_000
// A minute boundary, so tests can place samples inside known minutes.
const T0 = 29_000_000 * MINUTE

function sample(time: number, overrides: Partial<HistorySample> = {}): HistorySample {
  return {
    service: 'web', time, cpuPercent: 10, memoryBytes: 1000, memoryLimitBytes: 4096, pids: 2, pidsLimit: 16,
    oomKills: 0, fds: 5, ...overrides,
  }
}

describe('RingBuffer', () => {
  it('keeps the newest entries in order', () => {
    const ring = new RingBuffer<number>(3)
    for (let i = 1; i <= 5; i++) ring.push(i)
    expect(ring.toArray()).toEqual([3, 4, 5])
    expect(ring.size).toBe(3)
    expect(ring.oldest()).toBe(3)
  })

  it('rejects a zero capacity', () => {
    expect(() => new RingBuffer(0)).toThrow(/positive integer/)
  })
})

describe('downsample', () => {
  it('averages and takes the max per minute', () => {
    const minutes = downsample([
      sample(T0 + 1000, { cpuPercent: 10, memoryBytes: 100, pids: 1, fds: 4 }),
      sample(T0 + 2000, { cpuPercent: 30, memoryBytes: 300, pids: 3, fds: 8 }),
      sample(T0 + MINUTE + 5000, { cpuPercent: 50, memoryBytes: 500, pids: 5, fds: null }),
    ])
    expect(minutes).toHaveLength(2)
    const [first, second] = minutes
    expect(first!.time).toBe(T0)
    expect(first!.samples).toBe(2)
    expect(first!.cpuPercentAvg).toBe(20)
    expect(first!.cpuPercentMax).toBe(30)
    expect(first!.memoryBytesAvg).toBe(200)
    expect(first!.memoryBytesMax).toBe(300)
    expect(first!.pidsAvg).toBe(2)
    expect(first!.pidsMax).toBe(3)
    expect(first!.fdsAvg).toBe(6)
    expect(first!.fdsMax).toBe(8)
    expect(second!.time).toBe(T0 + MINUTE)
    expect(second!.fdsAvg).toBeNull()
    expect(second!.fdsMax).toBeNull()
  })

  it('keeps services apart', () => {
    const minutes = downsample([sample(T0, { service: 'a' }), sample(T0, { service: 'b', cpuPercent: 90 })])
    expect(minutes.map((m) => `${m.service} ${m.cpuPercentAvg}`).sort()).toEqual(['a 10', 'b 90'])
  })

  it('averages fds only over samples that had a count', () => {
    const [minute] = downsample([sample(T0, { fds: 10 }), sample(T0 + 1000, { fds: null })])
    expect(minute!.fdsAvg).toBe(10)
    expect(minute!.samples).toBe(2)
  })
})

describe('ResourceHistory', () => {
  let dir: string
  let db: Database.Database

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'blackhole-history-'))
    db = new Database(join(dir, 'test.db'))
    applyMigrations(db, MIGRATIONS_DIR)
  })

  afterEach(() => {
    db.close()
    rmSync(dir, { recursive: true, force: true })
  })

  function rows(): Record<string, unknown>[] {
    return db.prepare('SELECT * FROM "ResourceMinute" ORDER BY "service", "minute"').all() as Record<string, unknown>[]
  }

  it('writes a minute when the next one starts', () => {
    const history = new ResourceHistory({ database: db })
    for (let s = 0; s < 60; s++) history.addSample(sample(T0 + s * 1000, { cpuPercent: s }))
    expect(rows()).toHaveLength(0)
    history.addSample(sample(T0 + MINUTE))
    const stored = rows()
    expect(stored).toHaveLength(1)
    expect(stored[0]!.minute).toBe(T0 / MINUTE)
    expect(stored[0]!.samples).toBe(60)
    expect(stored[0]!.cpuPercentAvg).toBe(29.5)
    expect(stored[0]!.cpuPercentMax).toBe(59)
    expect(stored[0]!.fdsMax).toBe(5)
  })

  it('merges a minute written in two parts', () => {
    const first = new ResourceHistory({ database: db })
    first.addSample(sample(T0, { cpuPercent: 10, memoryBytes: 100, fds: 2 }))
    first.flush()
    const second = new ResourceHistory({ database: db })
    second.addSample(sample(T0 + 1000, { cpuPercent: 30, memoryBytes: 500, fds: 6 }))
    second.addSample(sample(T0 + 2000, { cpuPercent: 50, memoryBytes: 300, fds: null }))
    second.flush()
    const [row] = rows()
    expect(row!.samples).toBe(3)
    expect(row!.cpuPercentAvg).toBe(30)
    expect(row!.cpuPercentMax).toBe(50)
    expect(row!.memoryBytesMax).toBe(500)
    expect(row!.fdsMax).toBe(6)
  })

  it('returns full resolution inside the window', () => {
    const history = new ResourceHistory({ database: db })
    const now = T0 + 10 * MINUTE
    for (let s = 0; s < 600; s++) history.addSample(sample(T0 + s * 1000, { cpuPercent: s % 7 }))
    const range = history.range('web', now - 5 * MINUTE, now, now)
    expect(range.resolution).toBe('second')
    expect(range.samples).toHaveLength(300)
    expect(range.samples[0]!.time).toBe(now - 5 * MINUTE)
  })

  it('returns minutes for a range older than the window', () => {
    const history = new ResourceHistory({ database: db, fullResolutionMs: 2 * MINUTE })
    for (let s = 0; s < 300; s++) history.addSample(sample(T0 + s * 1000, { cpuPercent: Math.floor(s / 60) * 10 }))
    const now = T0 + 5 * MINUTE
    const range = history.range('web', T0, now, now)
    expect(range.resolution).toBe('minute')
    expect(range.samples.map((m) => m.time)).toEqual([0, 1, 2, 3, 4].map((m) => T0 + m * MINUTE))
    expect(range.samples.map((m) => (m as { cpuPercentAvg: number }).cpuPercentAvg)).toEqual([0, 10, 20, 30, 40])
  })

  it('drops ring entries beyond its capacity', () => {
    const history = new ResourceHistory({ database: db, fullResolutionMs: 10_000, sampleIntervalMs: 1000 })
    // Capacity is the window plus 60 samples of slack.
    for (let s = 0; s < 200; s++) history.addSample(sample(T0 + s * 1000))
    const now = T0 + 199_000
    const range = history.range('web', now - 9000, now, now)
    expect(range.resolution).toBe('second')
    expect(range.samples).toHaveLength(10)
  })

  it('deletes minutes older than the retention', () => {
    const history = new ResourceHistory({ database: db, retentionMs: 3 * MINUTE })
    for (let m = 0; m < 6; m++) history.addSample(sample(T0 + m * MINUTE))
    expect(rows()).toHaveLength(5)
    history.prune(T0 + 6 * MINUTE, true)
    expect(rows().map((row) => row.minute)).toEqual([3, 4].map((m) => T0 / MINUTE + m))
  })

  it('rejects a reversed range', () => {
    const history = new ResourceHistory({ database: db })
    expect(() => history.range('web', 2, 1)).toThrow(/from 2 is after to 1/)
  })

  it('takes samples from the metrics event', () => {
    const history = new ResourceHistory({ database: db })
    const supervisor = new EventEmitter()
    const detach = history.attach(supervisor)
    const { fds: _fds, ...plain } = sample(Date.now())
    supervisor.emit('metrics', [plain])
    detach()
    supervisor.emit('metrics', [{ ...plain, time: plain.time + 1000 }])
    const range = history.range('web', plain.time - 1000, plain.time + 5000)
    expect(range.resolution).toBe('second')
    expect(range.samples).toHaveLength(1)
    expect((range.samples[0] as HistorySample).fds).toBeNull()
    expect(rows()).toHaveLength(1)
  })
})
