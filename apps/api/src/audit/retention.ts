import type { AuditRecord } from '../types.js'
import type { Checkpointer } from './checkpoints.js'
import { readJsonl, type JsonlAppender } from './jsonl.js'
import type { AuditStore } from './store.js'

export interface PruneOptions {
  /** Keep at most this many records besides the genesis record. */
  maxRecords?: number
  /** Prune records older than this many days. */
  maxAgeDays?: number
}

export interface PruneResult {
  /** Records removed from the database. */
  pruned: number
  /** Highest pruned seq, 0 when nothing was pruned. */
  throughSeq: number
}

/**
 * Returns the last seq to prune. The genesis record (seq 1) and the newest
 * record always stay: the genesis names the keys, and the newest record is
 * what a cut-off tail is checked against.
 */
export function pruneTarget(store: AuditStore, last: AuditRecord | null, options: PruneOptions, now = Date.now()): number {
  if (!last) return 0
  let target = 0
  if (options.maxRecords !== undefined) {
    if (!Number.isInteger(options.maxRecords) || options.maxRecords < 1) {
      throw new RangeError(`prune maxRecords ${options.maxRecords} is invalid; use an integer of 1 or more`)
    }
    target = Math.max(target, last.seq - options.maxRecords)
  }
  if (options.maxAgeDays !== undefined) {
    if (!(options.maxAgeDays >= 0)) {
      throw new RangeError(`prune maxAgeDays ${options.maxAgeDays} is invalid; use a number of 0 or more`)
    }
    const cutoff = new Date(now - options.maxAgeDays * 86_400_000).toISOString()
    target = Math.max(target, store.lastSeqBefore(cutoff))
  }
  return Math.min(target, last.seq - 1)
}

/**
 * Prunes records 2 to throughSeq, which the caller announced with an
 * AUDIT_PRUNED record first. In one transaction it stores a
 * signed checkpoint of the last pruned record (which anchors the oldest
 * kept record's prevHash), a prune grant (which the DELETE trigger checks)
 * and the DELETE. Then it rewrites the JSONL without those lines. A crash
 * between the two leaves pruned lines in the JSONL, which the next open
 * drops and verify reports as a crash, not as tampering.
 */
export function pruneRecords(
  store: AuditStore,
  jsonl: JsonlAppender,
  checkpointer: Checkpointer,
  target: number,
  options: PruneOptions,
): PruneResult {
  const alreadyPruned = store.prunedThrough()
  if (target <= Math.max(1, alreadyPruned)) return { pruned: 0, throughSeq: 0 }
  const anchor = store.recordAt(target)
  if (!anchor) throw new Error(`cannot prune through seq ${target}: the record is missing; run blackhole audit verify`)
  const checkpoint = store.checkpointAt(target) ? null : checkpointer.sign(anchor)
  const reason = JSON.stringify(options)
  const pruned = store.pruneThrough(target, checkpoint, reason, new Date().toISOString())
  checkpointer.committed([checkpoint])
  dropPrunedLines(jsonl, target)
  return { pruned, throughSeq: target }
}

/**
 * Rewrites the JSONL without the lines of records 2 to throughSeq. It filters
 * the file's own lines rather than writing them from the database, so a
 * difference between the two stores survives for verify to find.
 */
export function dropPrunedLines(jsonl: JsonlAppender, throughSeq: number): number {
  const { lines } = readJsonl(jsonl.path, jsonl.size)
  const kept: string[] = []
  for (const line of lines) {
    const seq = lineSeq(line.text)
    if (seq !== null && seq > 1 && seq <= throughSeq) continue
    kept.push(`${line.text}\n`)
  }
  const dropped = lines.length - kept.length
  if (dropped > 0) jsonl.replace(kept.join(''))
  return dropped
}

/** Returns the seq of a JSONL line, or null when the line is not a record. */
export function lineSeq(text: string): number | null {
  try {
    const value = JSON.parse(text) as { seq?: unknown }
    return value && typeof value === 'object' && Number.isInteger(value.seq) ? (value.seq as number) : null
  } catch {
    return null
  }
}
