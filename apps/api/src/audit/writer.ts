import type { AuditInput, AuditRecord } from '../types.js'
import { SEVERITIES } from '../types.js'
import { canonicalJson, GENESIS_PREV_HASH, sealAndSerialize, toJsonValue } from './canonical.js'
import type { JsonlAppender } from './jsonl.js'
import type { AuditStore, CheckpointRow } from './store.js'

interface Pending {
  input: AuditInput
  resolve: (record: AuditRecord) => void
  reject: (error: Error) => void
}

export interface WriterOptions {
  store: AuditStore
  jsonl: JsonlAppender
  hmacKey: Buffer | null
  groupCommitMs: number
  maxBatch: number
  /** The last committed record, null for an empty log. */
  last: AuditRecord | null
  /** Returns the signed checkpoints that are due within this batch. */
  checkpointsFor: (records: AuditRecord[]) => CheckpointRow[]
  /** Called after each commit with the batch, in seq order. */
  onCommit: (records: AuditRecord[], checkpoints: CheckpointRow[]) => void
  /** Receives batch failures, which also reject the batch's promises. */
  onError: (details: Record<string, unknown>, message: string) => void
}

/**
 * Validates an input and returns an unsealed record (empty hash) built from
 * it, with metadata turned into plain JSON data.
 */
export function newRecord(input: AuditInput, seq: number, time: string, prevHash: string): AuditRecord {
  if (!input || typeof input.type !== 'string' || input.type === '') {
    throw new TypeError(`audit input type ${JSON.stringify(input?.type)} is invalid; pass a non-empty string such as SERVICE_STARTED`)
  }
  if (!SEVERITIES.includes(input.severity)) {
    throw new TypeError(`audit input severity ${JSON.stringify(input.severity)} is invalid; use one of ${SEVERITIES.join(', ')}`)
  }
  if (typeof input.description !== 'string') {
    throw new TypeError(`audit input description ${JSON.stringify(input.description)} is invalid; pass a string`)
  }
  if (input.pid != null && !Number.isInteger(input.pid)) {
    throw new TypeError(`audit input pid ${JSON.stringify(input.pid)} is invalid; pass an integer or null`)
  }
  const metadata = toJsonValue(input.metadata ?? {})
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw new TypeError('audit input metadata is invalid; pass a plain object')
  }
  return {
    seq,
    time,
    service: input.service ?? null,
    pid: input.pid ?? null,
    type: input.type,
    severity: input.severity,
    description: input.description,
    metadata,
    actor: input.actor ?? null,
    prevHash,
    hash: '',
    hmac: null,
  }
}

/**
 * Group commit: appends wait in a queue, and one batch at a time takes up
 * to maxBatch of them. The batch seals them into the chain, writes their
 * JSONL lines with one write and one fdatasync, inserts them in one SQLite
 * transaction, and only then resolves their promises. The JSONL goes first,
 * so every record in the database is durable in the JSONL. A crash can then
 * only leave the JSONL ahead of the database, and open() rolls those lines
 * forward.
 *
 * Other work that must not interleave with a batch (checkpoints on a timer,
 * pruning, close) runs through `exclusive`.
 */
export class GroupCommitWriter {
  private queue: Pending[] = []
  private chain: Promise<unknown> = Promise.resolve()
  private flushQueued = false
  private timer: NodeJS.Timeout | null = null
  private failure: Error | null = null
  /** Sizes of the committed batches, which tests read to see grouping. */
  readonly batchSizes: number[] = []
  last: AuditRecord | null

  constructor(private readonly options: WriterOptions) {
    this.last = options.last
  }

  enqueue(input: AuditInput): Promise<AuditRecord> {
    if (this.failure) return Promise.reject(this.failure)
    return new Promise<AuditRecord>((resolve, reject) => {
      this.queue.push({ input, resolve, reject })
      this.scheduleFlush()
    })
  }

  /** Runs fn after every batch and task queued before it, and before any later one. */
  exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    const result = this.chain.then(fn)
    this.chain = result.catch(() => undefined)
    return result
  }

  /** Resolves once every append queued so far is committed or rejected. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer)
      this.timer = null
      this.flushQueued = false
    }
    while (this.queue.length > 0) await this.exclusive(() => this.commitBatch())
    await this.exclusive(() => undefined)
  }

  /** Stops accepting appends: every later append rejects with this error. */
  fail(error: Error): void {
    this.failure = error
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return
    this.flushQueued = true
    // Waiting groupCommitMs lets concurrent appends join the batch. A batch
    // queued while another one syncs needs no wait, because appends gather
    // during the sync.
    this.timer = setTimeout(() => {
      this.timer = null
      void this.exclusive(() => this.commitBatch())
    }, this.options.groupCommitMs)
  }

  private async commitBatch(): Promise<void> {
    this.flushQueued = false
    const batch = this.queue.splice(0, this.options.maxBatch)
    if (this.queue.length > 0) {
      this.flushQueued = true
      void this.exclusive(() => this.commitBatch())
    }
    if (batch.length === 0) return
    if (this.failure) {
      for (const pending of batch) pending.reject(this.failure)
      return
    }

    const records: AuditRecord[] = []
    const metadataTexts: string[] = []
    const lines: string[] = []
    const accepted: Pending[] = []
    let previous = this.last
    // One time for the batch: its records are sealed in the same instant.
    const time = new Date().toISOString()
    for (const pending of batch) {
      let record: AuditRecord
      try {
        record = newRecord(pending.input, (previous?.seq ?? 0) + 1, time, previous?.hash ?? GENESIS_PREV_HASH)
      } catch (error) {
        pending.reject(error as Error)
        continue
      }
      const metadataJson = canonicalJson(record.metadata)
      const { hash, hmac, line } = sealAndSerialize(record, this.options.hmacKey, metadataJson)
      record.hash = hash
      record.hmac = hmac
      records.push(record)
      metadataTexts.push(metadataJson)
      lines.push(line, '\n')
      accepted.push(pending)
      previous = record
    }
    if (records.length === 0) return

    const data = Buffer.from(lines.join(''), 'utf8')
    const checkpoints = this.options.checkpointsFor(records)
    try {
      await this.options.jsonl.append(data)
      this.options.store.insertBatch(records, metadataTexts, checkpoints)
    } catch (error) {
      const cause = error as Error
      try {
        this.options.jsonl.rollback()
      } catch (rollbackError) {
        // The JSONL may now contain lines the database lacks. Appending stops
        // so that no later record links to them, and the next open rolls
        // them forward.
        const stopped = new Error(
          `audit log stopped: truncating the JSONL after a failed batch failed: ${(rollbackError as Error).message}; restart to recover`,
          { cause: rollbackError },
        )
        this.fail(stopped)
        this.options.onError({ err: rollbackError }, stopped.message)
      }
      const firstSeq = records[0]!.seq
      const failure = new Error(`audit batch of ${records.length} records (seq ${firstSeq} to ${previous!.seq}) failed: ${cause.message}`, { cause })
      this.options.onError({ err: cause, firstSeq, lastSeq: previous!.seq }, 'audit batch failed')
      for (const pending of accepted) pending.reject(failure)
      return
    }
    this.options.jsonl.commit(data.length)
    this.last = previous
    this.batchSizes.push(records.length)
    records.forEach((record, index) => accepted[index]!.resolve(record))
    this.options.onCommit(records, checkpoints)
  }
}
