import Database from 'better-sqlite3'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { applyMigrations } from '../db/migrate.js'
import type { AuditRecord, Severity } from '../types.js'

/** prisma/migrations, found from this file in src/audit and in dist/audit alike. */
export const DEFAULT_MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../../prisma/migrations')

/** An AuditEvent row as SQLite returns it. */
export interface AuditEventRow {
  seq: number
  time: string
  service: string | null
  pid: number | null
  type: string
  severity: string
  description: string
  metadata: string
  actor: string | null
  prevHash: string
  hash: string
  hmac: string | null
}

/** An AuditCheckpoint row: a signature over `seq|hash|time`. */
export interface CheckpointRow {
  seq: number
  time: string
  hash: string
  signature: string
  publicKey: string
}

export interface QueryOptions {
  service?: string
  type?: string
  severity?: Severity
  /** Maximum number of records, 100 by default, at most 10,000. */
  limit?: number
  /** Only records with a seq below this one: the cursor for the next page. */
  before?: number
  /** ISO 8601 time, inclusive lower bound. */
  since?: string
  /** ISO 8601 time, exclusive upper bound. */
  until?: string
}

export function rowToRecord(row: AuditEventRow): AuditRecord {
  return {
    seq: row.seq,
    time: row.time,
    service: row.service,
    pid: row.pid,
    type: row.type,
    severity: row.severity as Severity,
    description: row.description,
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    actor: row.actor,
    prevHash: row.prevHash,
    hash: row.hash,
    hmac: row.hmac,
  }
}

/**
 * Opens the database in WAL mode with synchronous=NORMAL and applies the
 * migrations. NORMAL is enough for the audit tables because the JSONL file
 * is fsynced before each DB commit: a commit that a power loss undoes is
 * restored from the JSONL on the next open.
 */
export function openAuditDatabase(dbPath: string, migrationsDir = DEFAULT_MIGRATIONS_DIR): Database.Database {
  const db = new Database(dbPath)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma('busy_timeout = 5000')
  applyMigrations(db, migrationsDir)
  return db
}

/** Prepared statements over the audit tables. */
export class AuditStore {
  readonly db: Database.Database
  private readonly insertEvent: Database.Statement
  private readonly insertCheckpointStatement: Database.Statement
  private readonly insertGrant: Database.Statement
  private readonly deleteThrough: Database.Statement

  constructor(db: Database.Database) {
    this.db = db
    this.insertEvent = db.prepare(
      `INSERT INTO AuditEvent (seq, time, service, pid, type, severity, description, metadata, actor, prevHash, hash, hmac)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    this.insertCheckpointStatement = db.prepare(
      `INSERT INTO AuditCheckpoint (seq, time, hash, signature, publicKey) VALUES (@seq, @time, @hash, @signature, @publicKey)`,
    )
    this.insertGrant = db.prepare(`INSERT INTO AuditPruneGrant (throughSeq, time, reason) VALUES (?, ?, ?)`)
    this.deleteThrough = db.prepare(`DELETE FROM AuditEvent WHERE seq > 1 AND seq <= ?`)
  }

  /**
   * Inserts the records, with their metadata as canonical JSON text, and
   * the checkpoints in one transaction.
   */
  insertBatch(records: AuditRecord[], metadataTexts: string[], checkpoints: CheckpointRow[]): void {
    this.db.transaction(() => {
      // Positional parameters bind faster than named ones on this hot path.
      records.forEach((record, index) => {
        this.insertEvent.run(
          record.seq,
          record.time,
          record.service,
          record.pid,
          record.type,
          record.severity,
          record.description,
          metadataTexts[index],
          record.actor,
          record.prevHash,
          record.hash,
          record.hmac,
        )
      })
      for (const checkpoint of checkpoints) this.insertCheckpointStatement.run(checkpoint)
    })()
  }

  insertCheckpoint(checkpoint: CheckpointRow): void {
    this.insertCheckpointStatement.run(checkpoint)
  }

  /**
   * Deletes records 2 to throughSeq in one transaction with the grant that
   * the DELETE trigger checks, after the checkpoint of throughSeq is stored.
   * Returns the number of deleted records.
   */
  pruneThrough(throughSeq: number, checkpoint: CheckpointRow | null, reason: string, time: string): number {
    return this.db.transaction(() => {
      if (checkpoint) this.insertCheckpointStatement.run(checkpoint)
      this.insertGrant.run(throughSeq, time, reason)
      return this.deleteThrough.run(throughSeq).changes
    })()
  }

  lastRecord(): AuditRecord | null {
    const row = this.db.prepare(`SELECT * FROM AuditEvent ORDER BY seq DESC LIMIT 1`).get() as AuditEventRow | undefined
    return row ? rowToRecord(row) : null
  }

  recordAt(seq: number): AuditRecord | null {
    const row = this.db.prepare(`SELECT * FROM AuditEvent WHERE seq = ?`).get(seq) as AuditEventRow | undefined
    return row ? rowToRecord(row) : null
  }

  /** Returns every record from fromSeq on, in seq order. */
  *iterateRows(fromSeq = 0): IterableIterator<AuditEventRow> {
    yield* this.db.prepare(`SELECT * FROM AuditEvent WHERE seq >= ? ORDER BY seq`).iterate(fromSeq) as IterableIterator<AuditEventRow>
  }

  count(): number {
    return (this.db.prepare(`SELECT count(*) AS n FROM AuditEvent`).get() as { n: number }).n
  }

  checkpoints(): CheckpointRow[] {
    return this.db.prepare(`SELECT * FROM AuditCheckpoint ORDER BY seq`).all() as CheckpointRow[]
  }

  checkpointAt(seq: number): CheckpointRow | null {
    return (this.db.prepare(`SELECT * FROM AuditCheckpoint WHERE seq = ?`).get(seq) as CheckpointRow | undefined) ?? null
  }

  lastCheckpoint(): CheckpointRow | null {
    return (this.db.prepare(`SELECT * FROM AuditCheckpoint ORDER BY seq DESC LIMIT 1`).get() as CheckpointRow | undefined) ?? null
  }

  /** Returns the highest seq that retention pruned, 0 when nothing was pruned. */
  prunedThrough(): number {
    const row = this.db.prepare(`SELECT max(throughSeq) AS seq FROM AuditPruneGrant`).get() as { seq: number | null }
    return row.seq ?? 0
  }

  /** Returns the last seq whose time is before the given ISO time, or 0. */
  lastSeqBefore(time: string): number {
    const row = this.db.prepare(`SELECT max(seq) AS seq FROM AuditEvent WHERE time < ?`).get(time) as { seq: number | null }
    return row.seq ?? 0
  }

  /** Returns matching records, newest first. */
  query(options: QueryOptions = {}): AuditRecord[] {
    const where: string[] = []
    const params: unknown[] = []
    const add = (clause: string, value: unknown) => {
      where.push(clause)
      params.push(value)
    }
    if (options.service !== undefined) add('service = ?', options.service)
    if (options.type !== undefined) add('type = ?', options.type)
    if (options.severity !== undefined) add('severity = ?', options.severity)
    if (options.before !== undefined) add('seq < ?', options.before)
    if (options.since !== undefined) add('time >= ?', options.since)
    if (options.until !== undefined) add('time < ?', options.until)
    const limit = options.limit ?? 100
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      throw new RangeError(`query limit ${limit} is invalid; use an integer from 1 to 10000`)
    }
    const sql = `SELECT * FROM AuditEvent ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`
    const rows = this.db.prepare(sql).all(...params, limit) as AuditEventRow[]
    return rows.map(rowToRecord)
  }
}
