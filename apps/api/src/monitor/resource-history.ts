// Resource history per service: every sample of the last hour in memory
// (one ring buffer per service), and one-minute averages and maxima in the
// ResourceMinute table for as long as the retention allows.

import { readdirSync } from 'node:fs'
import type { EventEmitter } from 'node:events'
import type Database from 'better-sqlite3'
import type { ResourceSample } from '../types.js'
import { quietMonitorLogger, type MonitorLogger } from './common.js'
import { ServiceResolver, type ServiceSource } from './services.js'

export interface HistorySample extends ResourceSample {
  /** Open file descriptors of every process in the service's cgroup; null when they could not be counted. */
  fds: number | null
}

export interface MinuteSample {
  service: string
  /** Start of the minute, in milliseconds since the epoch. */
  time: number
  /** Number of samples averaged. */
  samples: number
  cpuPercentAvg: number
  cpuPercentMax: number
  memoryBytesAvg: number
  memoryBytesMax: number
  memoryLimitBytes: number | null
  pidsAvg: number
  pidsMax: number
  pidsLimit: number | null
  fdsAvg: number | null
  fdsMax: number | null
  /** The cgroup's OOM kill counter at the end of the minute. */
  oomKills: number
}

export type HistoryRange =
  | { service: string; resolution: 'second'; samples: HistorySample[] }
  | { service: string; resolution: 'minute'; samples: MinuteSample[] }

export interface ResourceHistoryOptions {
  /** A better-sqlite3 handle on the database with the ResourceMinute migration applied. */
  database: Database.Database
  /** Counts descriptors per service when given; samples get fds null otherwise. */
  services?: ServiceSource | ServiceResolver
  /** How long samples are kept at full resolution, in milliseconds (default one hour). */
  fullResolutionMs?: number
  /** Expected interval between samples, in milliseconds (default 1000); sizes the ring buffers. */
  sampleIntervalMs?: number
  /** Minute rows older than this are deleted, in milliseconds (default 30 days). */
  retentionMs?: number
  logger?: MonitorLogger
}

const MINUTE_MS = 60_000
const DAY_MS = 86_400_000
// Deleting old rows at most this often keeps the cost off the sample path.
const PRUNE_INTERVAL_MS = 10 * MINUTE_MS

/** Fixed-capacity buffer that overwrites its oldest entry. */
export class RingBuffer<T> {
  private readonly items: (T | undefined)[]
  private start = 0
  private count = 0

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring buffer capacity must be a positive integer, got ${capacity}`)
    this.items = new Array<T | undefined>(capacity)
  }

  get size(): number {
    return this.count
  }

  push(item: T): void {
    const index = (this.start + this.count) % this.capacity
    this.items[index] = item
    if (this.count < this.capacity) this.count += 1
    else this.start = (this.start + 1) % this.capacity
  }

  /** Returns the entries, oldest first. */
  toArray(): T[] {
    const result: T[] = []
    for (let i = 0; i < this.count; i++) result.push(this.items[(this.start + i) % this.capacity]!)
    return result
  }

  oldest(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.start]
  }
}

/** Running sums of one minute of samples. */
class MinuteAggregate {
  samples = 0
  cpuSum = 0
  cpuMax = 0
  memorySum = 0
  memoryMax = 0
  pidsSum = 0
  pidsMax = 0
  fdsSum = 0
  fdsCount = 0
  fdsMax = 0
  memoryLimitBytes: number | null = null
  pidsLimit: number | null = null
  oomKills = 0

  constructor(readonly service: string, readonly minute: number) {}

  add(sample: HistorySample): void {
    this.samples += 1
    this.cpuSum += sample.cpuPercent
    this.cpuMax = Math.max(this.cpuMax, sample.cpuPercent)
    this.memorySum += sample.memoryBytes
    this.memoryMax = Math.max(this.memoryMax, sample.memoryBytes)
    this.pidsSum += sample.pids
    this.pidsMax = Math.max(this.pidsMax, sample.pids)
    if (sample.fds !== null) {
      this.fdsSum += sample.fds
      this.fdsCount += 1
      this.fdsMax = Math.max(this.fdsMax, sample.fds)
    }
    this.memoryLimitBytes = sample.memoryLimitBytes
    this.pidsLimit = sample.pidsLimit
    this.oomKills = sample.oomKills
  }

  toSample(): MinuteSample {
    return {
      service: this.service,
      time: this.minute * MINUTE_MS,
      samples: this.samples,
      cpuPercentAvg: this.cpuSum / this.samples,
      cpuPercentMax: this.cpuMax,
      memoryBytesAvg: this.memorySum / this.samples,
      memoryBytesMax: this.memoryMax,
      memoryLimitBytes: this.memoryLimitBytes,
      pidsAvg: this.pidsSum / this.samples,
      pidsMax: this.pidsMax,
      pidsLimit: this.pidsLimit,
      fdsAvg: this.fdsCount === 0 ? null : this.fdsSum / this.fdsCount,
      fdsMax: this.fdsCount === 0 ? null : this.fdsMax,
      oomKills: this.oomKills,
    }
  }
}

/**
 * Averages samples per whole minute (UTC, by sample time). Minutes are
 * returned in time order, with fds averaged over the samples that had a count.
 */
export function downsample(samples: HistorySample[]): MinuteSample[] {
  const minutes = new Map<string, MinuteAggregate>()
  for (const sample of [...samples].sort((a, b) => a.time - b.time)) {
    const minute = Math.floor(sample.time / MINUTE_MS)
    const key = `${sample.service}\0${minute}`
    let aggregate = minutes.get(key)
    if (aggregate === undefined) {
      aggregate = new MinuteAggregate(sample.service, minute)
      minutes.set(key, aggregate)
    }
    aggregate.add(sample)
  }
  return [...minutes.values()].map((aggregate) => aggregate.toSample())
}

/** Counts the entries of /proc/PID/fd over the pids; null when none could be read. */
export function countDescriptors(pids: number[]): number | null {
  let total = 0
  let counted = false
  for (const pid of pids) {
    try {
      total += readdirSync(`/proc/${pid}/fd`).length
      counted = true
    } catch {
      // The process exited between the cgroup.procs read and this one.
    }
  }
  return counted ? total : null
}

interface MinuteRow {
  service: string
  minute: number
  samples: number
  cpuPercentAvg: number
  cpuPercentMax: number
  memoryBytesAvg: number
  memoryBytesMax: number
  memoryLimitBytes: number | null
  pidsAvg: number
  pidsMax: number
  pidsLimit: number | null
  fdsAvg: number | null
  fdsMax: number | null
  oomKills: number
}

/** Stores resource samples and returns ranges at the resolution each range allows. */
export class ResourceHistory {
  private readonly database: Database.Database
  private readonly resolver: ServiceResolver | null
  private readonly fullResolutionMs: number
  private readonly capacity: number
  private readonly retentionMs: number
  private readonly logger: MonitorLogger
  private readonly rings = new Map<string, RingBuffer<HistorySample>>()
  private readonly current = new Map<string, MinuteAggregate>()
  private readonly insertMinute: Database.Statement
  private readonly selectMinutes: Database.Statement
  private readonly deleteBefore: Database.Statement
  private lastPrune = 0
  /** Minute rows that could not be written; their samples stay only in memory. */
  dropped = 0

  constructor(options: ResourceHistoryOptions) {
    this.database = options.database
    const services = options.services
    if (services === undefined) this.resolver = null
    else if (services instanceof ServiceResolver) this.resolver = services
    else this.resolver = new ServiceResolver(services)
    this.fullResolutionMs = options.fullResolutionMs ?? 3_600_000
    const interval = options.sampleIntervalMs ?? 1000
    // Room for jitter: 60 samples more than the window contains at the nominal interval.
    this.capacity = Math.ceil(this.fullResolutionMs / interval) + 60
    this.retentionMs = options.retentionMs ?? 30 * DAY_MS
    this.logger = options.logger ?? quietMonitorLogger
    // Merging keeps a minute correct when it was written in parts, for
    // example by flush() at shutdown and again after a restart.
    this.insertMinute = this.database.prepare(`
      INSERT INTO "ResourceMinute" ("service", "minute", "samples", "cpuPercentAvg", "cpuPercentMax",
        "memoryBytesAvg", "memoryBytesMax", "memoryLimitBytes", "pidsAvg", "pidsMax", "pidsLimit",
        "fdsAvg", "fdsMax", "oomKills")
      VALUES (@service, @minute, @samples, @cpuPercentAvg, @cpuPercentMax, @memoryBytesAvg, @memoryBytesMax,
        @memoryLimitBytes, @pidsAvg, @pidsMax, @pidsLimit, @fdsAvg, @fdsMax, @oomKills)
      ON CONFLICT ("service", "minute") DO UPDATE SET
        "cpuPercentAvg" = ("cpuPercentAvg" * "samples" + excluded."cpuPercentAvg" * excluded."samples") / ("samples" + excluded."samples"),
        "memoryBytesAvg" = ("memoryBytesAvg" * "samples" + excluded."memoryBytesAvg" * excluded."samples") / ("samples" + excluded."samples"),
        "pidsAvg" = ("pidsAvg" * "samples" + excluded."pidsAvg" * excluded."samples") / ("samples" + excluded."samples"),
        "fdsAvg" = CASE WHEN "fdsAvg" IS NULL THEN excluded."fdsAvg" WHEN excluded."fdsAvg" IS NULL THEN "fdsAvg"
          ELSE ("fdsAvg" * "samples" + excluded."fdsAvg" * excluded."samples") / ("samples" + excluded."samples") END,
        "cpuPercentMax" = MAX("cpuPercentMax", excluded."cpuPercentMax"),
        "memoryBytesMax" = MAX("memoryBytesMax", excluded."memoryBytesMax"),
        "pidsMax" = MAX("pidsMax", excluded."pidsMax"),
        "fdsMax" = MAX(COALESCE("fdsMax", excluded."fdsMax"), COALESCE(excluded."fdsMax", "fdsMax")),
        "memoryLimitBytes" = excluded."memoryLimitBytes",
        "pidsLimit" = excluded."pidsLimit",
        "oomKills" = MAX("oomKills", excluded."oomKills"),
        "samples" = "samples" + excluded."samples"`)
    this.selectMinutes = this.database.prepare(`
      SELECT * FROM "ResourceMinute" WHERE "service" = ? AND "minute" >= ? AND "minute" <= ? ORDER BY "minute"`)
    this.deleteBefore = this.database.prepare('DELETE FROM "ResourceMinute" WHERE "minute" < ?')
  }

  /**
   * Subscribes to the supervisor's 'metrics' event (ResourceSample[] per
   * interval). Returns a function that unsubscribes and writes the minutes in progress.
   */
  attach(supervisor: EventEmitter): () => void {
    const listener = (samples: ResourceSample[]) => this.add(samples)
    supervisor.on('metrics', listener)
    return () => {
      supervisor.off('metrics', listener)
      this.flush()
    }
  }

  /** Adds samples, counting descriptors when a service source was given, and writes each minute as it completes. */
  add(samples: ResourceSample[]): void {
    if (this.resolver !== null && samples.length > 0) this.resolver.refresh()
    for (const sample of samples) {
      const fds = this.resolver === null ? null : countDescriptors(this.resolver.pidsOf(sample.service))
      this.addSample({ ...sample, fds })
    }
    this.prune(Date.now())
  }

  /** Adds one sample that already has its descriptor count. */
  addSample(sample: HistorySample): void {
    let ring = this.rings.get(sample.service)
    if (ring === undefined) {
      ring = new RingBuffer<HistorySample>(this.capacity)
      this.rings.set(sample.service, ring)
    }
    ring.push(sample)
    const minute = Math.floor(sample.time / MINUTE_MS)
    let aggregate = this.current.get(sample.service)
    if (aggregate !== undefined && aggregate.minute !== minute) {
      this.write(aggregate)
      aggregate = undefined
    }
    if (aggregate === undefined) {
      aggregate = new MinuteAggregate(sample.service, minute)
      this.current.set(sample.service, aggregate)
    }
    aggregate.add(sample)
  }

  /** Writes every minute in progress, for example before shutdown. */
  flush(): void {
    for (const aggregate of this.current.values()) this.write(aggregate)
    this.current.clear()
  }

  /**
   * Returns the samples of a service between from and to (milliseconds since
   * the epoch, inclusive): every sample when the range lies within the
   * in-memory window, one-minute averages otherwise.
   */
  range(service: string, from: number, to: number, now = Date.now()): HistoryRange {
    if (!(from <= to)) throw new RangeError(`invalid history range: from ${from} is after to ${to}`)
    const ring = this.rings.get(service)
    const oldest = ring?.oldest()?.time ?? Number.POSITIVE_INFINITY
    const windowStart = now - this.fullResolutionMs
    // Full resolution when the range starts inside the window and memory
    // contains samples from its start (or from before, for a service started later).
    if (from >= windowStart && ring !== undefined && (oldest <= from || oldest > windowStart)) {
      return { service, resolution: 'second', samples: ring.toArray().filter((sample) => sample.time >= from && sample.time <= to) }
    }
    const rows = this.selectMinutes.all(service, Math.floor(from / MINUTE_MS), Math.floor(to / MINUTE_MS)) as MinuteRow[]
    const minutes = rows.map(rowToSample)
    // The minute in progress is not in the table yet.
    const open = this.current.get(service)
    if (open !== undefined && open.minute * MINUTE_MS >= from && open.minute * MINUTE_MS <= to) {
      const stored = minutes.findIndex((minute) => minute.time === open.minute * MINUTE_MS)
      if (stored < 0) minutes.push(open.toSample())
    }
    return { service, resolution: 'minute', samples: minutes }
  }

  /** Deletes minute rows older than the retention and drops rings of services silent for longer than the window. */
  prune(now: number, force = false): void {
    if (!force && now - this.lastPrune < PRUNE_INTERVAL_MS) return
    this.lastPrune = now
    try {
      this.deleteBefore.run(Math.floor((now - this.retentionMs) / MINUTE_MS))
    } catch (error) {
      this.logger.error(`deleting old resource history failed: ${(error as Error).message}`)
    }
    for (const [service, ring] of this.rings) {
      const newest = ring.toArray().at(-1)
      if (newest !== undefined && newest.time < now - this.fullResolutionMs && !this.current.has(service)) this.rings.delete(service)
    }
  }

  private write(aggregate: MinuteAggregate): void {
    const sample = aggregate.toSample()
    try {
      const { time: _time, ...columns } = sample
      this.insertMinute.run({ ...columns, minute: aggregate.minute })
    } catch (error) {
      this.dropped += 1
      this.logger.error(`writing resource history of ${aggregate.service} for minute ${new Date(sample.time).toISOString()} failed: ${(error as Error).message}`)
    }
  }
}

function rowToSample(row: MinuteRow): MinuteSample {
  return {
    service: row.service, time: row.minute * MINUTE_MS, samples: row.samples,
    cpuPercentAvg: row.cpuPercentAvg, cpuPercentMax: row.cpuPercentMax,
    memoryBytesAvg: row.memoryBytesAvg, memoryBytesMax: row.memoryBytesMax, memoryLimitBytes: row.memoryLimitBytes,
    pidsAvg: row.pidsAvg, pidsMax: row.pidsMax, pidsLimit: row.pidsLimit,
    fdsAvg: row.fdsAvg, fdsMax: row.fdsMax, oomKills: row.oomKills,
  }
}
