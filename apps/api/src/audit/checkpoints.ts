import type { AuditRecord } from '../types.js'
import { signCheckpoint, type CheckpointKeys } from './keys.js'
import type { AuditStore, CheckpointRow } from './store.js'
import type { CheckpointExport } from './verify.js'

/**
 * Decides when to sign a checkpoint: after `every` new records, or on the
 * timer (checkpointSeconds) when any record arrived since the last one.
 */
export class Checkpointer {
  /** Seq of the newest stored checkpoint, 0 before the first. */
  lastSeq: number

  constructor(
    private readonly keys: CheckpointKeys,
    private readonly store: AuditStore,
    private readonly every: number,
  ) {
    this.lastSeq = store.lastCheckpoint()?.seq ?? 0
  }

  /** Signs a checkpoint of each record of the batch that ends a run of `every` records since the previous checkpoint. */
  dueIn(records: AuditRecord[]): CheckpointRow[] {
    const due: CheckpointRow[] = []
    let lastSeq = this.lastSeq
    for (const record of records) {
      if (record.seq - lastSeq < this.every) continue
      due.push(this.sign(record))
      lastSeq = record.seq
    }
    return due
  }

  /** Signs `seq|hash|time` of the record with the current time. */
  sign(record: Pick<AuditRecord, 'seq' | 'hash'>): CheckpointRow {
    if (!this.keys.privateKey) throw new Error('cannot sign checkpoints: the private checkpoint key is not loaded')
    const time = new Date().toISOString()
    return {
      seq: record.seq,
      time,
      hash: record.hash,
      signature: signCheckpoint(this.keys.privateKey, record.seq, record.hash, time),
      publicKey: this.keys.publicKeyText,
    }
  }

  /** Stores a checkpoint of the record unless one of it exists already. */
  writeFor(record: AuditRecord): CheckpointRow | null {
    if (record.seq <= this.lastSeq) return null
    const checkpoint = this.sign(record)
    this.store.insertCheckpoint(checkpoint)
    this.lastSeq = checkpoint.seq
    return checkpoint
  }

  committed(checkpoints: (CheckpointRow | null)[]): void {
    for (const checkpoint of checkpoints) {
      if (checkpoint && checkpoint.seq > this.lastSeq) this.lastSeq = checkpoint.seq
    }
  }

  export(): CheckpointExport {
    return {
      publicKey: this.keys.publicKeyText,
      checkpoints: this.store.checkpoints().map(({ seq, time, hash, signature }) => ({ seq, time, hash, signature })),
    }
  }
}
