// Runs audit retention on a timer: the size cap and the age limit that
// `blackhole serve` applies to the event log. Each pass prunes through
// AuditLog.prune, which checkpoints the last pruned record first, so the
// chain stays verifiable.

import type { PruneOptions, PruneResult } from './retention.js'

/** Default retention: keep at most five million records, none older than a year. */
export const DEFAULT_RETENTION: Required<PruneOptions> = { maxRecords: 5_000_000, maxAgeDays: 365 }

/** Time between retention passes, in milliseconds. */
export const RETENTION_INTERVAL_MS = 60 * 60 * 1000

export interface RetentionTarget {
  prune(options: PruneOptions): Promise<PruneResult>
}

export interface RetentionLogger {
  info(message: string): void
  error(message: string): void
}

/**
 * Prunes now, after `firstDelayMs`, and then every `intervalMs`, one pass at
 * a time. Returns a function that stops the timer and waits for a running
 * pass.
 */
export function scheduleRetention(
  audit: RetentionTarget,
  options: PruneOptions,
  logger: RetentionLogger,
  { firstDelayMs = 10_000, intervalMs = RETENTION_INTERVAL_MS }: { firstDelayMs?: number; intervalMs?: number } = {},
): () => Promise<void> {
  let running: Promise<void> | null = null
  let timer: NodeJS.Timeout | null = null
  let stopped = false

  const pass = async (): Promise<void> => {
    try {
      const result = await audit.prune(options)
      if (result.pruned > 0) logger.info(`audit retention pruned ${result.pruned} records through seq ${result.throughSeq}`)
    } catch (error) {
      logger.error(`audit retention failed: ${(error as Error).message}`)
    }
  }
  const schedule = (delayMs: number): void => {
    if (stopped) return
    timer = setTimeout(() => {
      running = pass().finally(() => {
        running = null
        schedule(intervalMs)
      })
    }, delayMs)
    timer.unref()
  }
  schedule(firstDelayMs)

  return async () => {
    stopped = true
    if (timer !== null) clearTimeout(timer)
    await running
  }
}
