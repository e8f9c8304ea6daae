// Pieces every monitor shares: the record callback, drop counting and stats.

import type { AuditInput } from '../types.js'

/** Appends one audit record, as the supervisor's `record` option does. */
export type RecordFn = (input: AuditInput) => Promise<unknown> | unknown

export interface MonitorLogger {
  warn(message: string): void
  error(message: string): void
}

export const quietMonitorLogger: MonitorLogger = {
  warn: (message) => console.warn(`blackhole: ${message}`),
  error: (message) => console.error(`blackhole: ${message}`),
}

/** Key for drops that happened before the service was known, such as a full native queue. */
export const UNATTRIBUTED = '(unattributed)'

export interface MonitorStats {
  /** False when the kernel or the build lacks what the monitor needs, which `reason` names. */
  available: boolean
  reason: string | null
  running: boolean
  /** Records handed to the record callback. */
  recorded: number
  /** Events that were seen but not recorded, in total. */
  dropped: number
  /** The same drops per service; UNATTRIBUTED when the service was unknown. */
  droppedByService: Record<string, number>
}

export interface Monitor {
  start(): void
  stop(): void
  stats(): MonitorStats
}

/**
 * Counts records and drops, and applies a per-service budget of records per
 * second so that a noisy sandbox cannot flood the audit log.
 */
export class RecordGate {
  recorded = 0
  dropped = 0
  readonly droppedByService = new Map<string, number>()
  private readonly budget = new Map<string, { second: number; used: number }>()
  private readonly record: RecordFn
  private readonly logger: MonitorLogger
  private readonly maxPerSecond: number

  constructor(record: RecordFn, logger: MonitorLogger, maxPerSecond: number) {
    this.record = record
    this.logger = logger
    this.maxPerSecond = maxPerSecond
  }

  drop(service: string | null | undefined, count = 1): void {
    if (count <= 0) return
    const key = service ?? UNATTRIBUTED
    this.dropped += count
    this.droppedByService.set(key, (this.droppedByService.get(key) ?? 0) + count)
  }

  /** Records the input unless its service used up this second's budget; returns false when dropped. */
  emit(input: AuditInput, now = Date.now()): boolean {
    const key = input.service ?? UNATTRIBUTED
    const second = Math.floor(now / 1000)
    let slot = this.budget.get(key)
    if (slot === undefined || slot.second !== second) {
      slot = { second, used: 0 }
      this.budget.set(key, slot)
    }
    if (slot.used >= this.maxPerSecond) {
      this.drop(input.service)
      return false
    }
    slot.used += 1
    this.recorded += 1
    try {
      const result = this.record(input)
      if (result instanceof Promise) {
        result.catch((error: unknown) => this.failed(input, error))
      }
    } catch (error) {
      this.failed(input, error)
    }
    return true
  }

  stats(available: boolean, reason: string | null, running: boolean): MonitorStats {
    return {
      available, reason, running, recorded: this.recorded, dropped: this.dropped,
      droppedByService: Object.fromEntries(this.droppedByService),
    }
  }

  private failed(input: AuditInput, error: unknown): void {
    this.recorded -= 1
    this.drop(input.service)
    this.logger.error(`audit record ${input.type} for ${input.service ?? 'unknown service'} failed: ${(error as Error).message}`)
  }
}
