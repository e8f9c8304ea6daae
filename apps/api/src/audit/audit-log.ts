import { existsSync, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type Database from 'better-sqlite3'
import type { AuditInput, AuditRecord } from '../types.js'
import { keyFingerprint } from './canonical.js'
import { releaseLock, takeLock } from './lock.js'
import { Checkpointer } from './checkpoints.js'
import { JsonlAppender, readJsonl, syncFolder } from './jsonl.js'
import { loadOrCreateCheckpointKeys, type CheckpointKeys } from './keys.js'
import { recoverStores } from './recovery.js'
import { pruneRecords, pruneTarget, type PruneOptions, type PruneResult } from './retention.js'
import { AuditStore, openAuditDatabase, type QueryOptions } from './store.js'
import { verifyStores, type CheckpointExport, type CrashFinding, type VerifyReport } from './verify.js'
import { GroupCommitWriter } from './writer.js'

export interface AuditLogOptions {
  dbPath: string
  jsonlPath: string
  /** Folder of the checkpoint key pair, created with mode 0700 on first open. */
  keyDir: string
  /** HMAC-SHA-256 key; records then carry an HMAC next to the hash. */
  hmacKey?: Buffer | null
  /** Hash of the service configuration, stored in the genesis record. */
  configHash?: string
  /** Records between checkpoints (1000 by default). */
  checkpointEvery?: number
  /** Seconds between checkpoints while records arrive (60 by default). */
  checkpointSeconds?: number
  /** How long the first append of a batch waits for others to join, in ms (2 by default). */
  groupCommitMs?: number
  /** Maximum records per batch (5000 by default). */
  maxBatch?: number
  /** Folder of the SQL migrations; prisma/migrations of this repository by default. */
  migrationsDir?: string
  /** Receives errors the log catches and does not raise (pino's call shape); console by default. */
  logger?: AuditLogger
}

export interface AuditLogger {
  error(details: Record<string, unknown>, message: string): void
}

const consoleLogger: AuditLogger = {
  error: (details, message) => console.error(message, details),
}

export interface VerifyOptions {
  /** Checkpoints kept off the host: the object exportCheckpoints() returned, or a path to it as JSON. */
  externalCheckpoints?: CheckpointExport | string
}

type Listener = (record: AuditRecord) => void

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback
  if (!Number.isInteger(result) || result < 1) {
    throw new RangeError(`AuditLog option ${name} is ${value}; use an integer of 1 or more`)
  }
  return result
}

/**
 * The tamper-evident audit log: a hash chain stored in SQLite and in a JSONL
 * file, with signed checkpoints. See writer.ts for the commit order and
 * recovery.ts for what open() repairs.
 */
export class AuditLog {
  private readonly listeners = new Set<Listener>()
  private checkpointTimer: NodeJS.Timeout | null = null
  private closed: Promise<void> | null = null
  private readonly logger: AuditLogger

  private constructor(
    private readonly options: AuditLogOptions,
    private readonly db: Database.Database,
    private readonly store: AuditStore,
    private readonly jsonl: JsonlAppender,
    private readonly keys: CheckpointKeys,
    private readonly hmacKey: Buffer | null,
    private readonly checkpointer: Checkpointer,
    private readonly writer: GroupCommitWriter,
    /** Crash damage that open() repaired, null when there was none. */
    readonly recovery: CrashFinding | null,
    private readonly lockPath: string,
  ) {
    this.logger = options.logger ?? consoleLogger
  }

  /**
   * Opens or creates both stores. The first open appends the genesis record
   * (seq 1). A later open repairs what a crash left (see recovery.ts) and
   * then appends an AUDIT_RECOVERED record that describes the repair.
   */
  static open(options: AuditLogOptions): AuditLog {
    const checkpointEvery = positiveInteger('checkpointEvery', options.checkpointEvery, 1000)
    const checkpointSeconds = positiveInteger('checkpointSeconds', options.checkpointSeconds, 60)
    const maxBatch = positiveInteger('maxBatch', options.maxBatch, 5000)
    const groupCommitMs = options.groupCommitMs ?? 2
    if (!(groupCommitMs >= 0)) throw new RangeError(`AuditLog option groupCommitMs is ${groupCommitMs}; use 0 or more`)
    const hmacKey = options.hmacKey ?? null

    mkdirSync(dirname(options.jsonlPath), { recursive: true, mode: 0o750 })
    mkdirSync(dirname(options.dbPath), { recursive: true, mode: 0o750 })
    const lockPath = `${options.jsonlPath}.lock`
    takeLock(lockPath)
    let db: Database.Database | null = null
    try {
      const keys = loadOrCreateCheckpointKeys(options.keyDir)
      db = openAuditDatabase(options.dbPath, options.migrationsDir)
      const store = new AuditStore(db)
      checkGenesisKeys(store, keys, hmacKey)
      const isNewFile = !existsSync(options.jsonlPath)
      const recovery = recoverStores(store, options.jsonlPath, hmacKey)
      // Records rolled forward from the JSONL may have brought the genesis.
      checkGenesisKeys(store, keys, hmacKey)
      const jsonl = new JsonlAppender(options.jsonlPath)
      if (isNewFile) syncFolder(dirname(options.jsonlPath))
      const checkpointer = new Checkpointer(keys, store, checkpointEvery)
      let log: AuditLog | null = null
      const writer = new GroupCommitWriter({
        store,
        jsonl,
        hmacKey,
        groupCommitMs,
        maxBatch,
        last: store.lastRecord(),
        checkpointsFor: (records) => checkpointer.dueIn(records),
        onCommit: (records, checkpoints) => {
          checkpointer.committed(checkpoints)
          log?.notify(records)
        },
        onError: (details, message) => (options.logger ?? consoleLogger).error(details, message),
      })
      log = new AuditLog(options, db, store, jsonl, keys, hmacKey, checkpointer, writer, recovery, lockPath)
      const logger = options.logger ?? consoleLogger
      // A failure here also rejects the other appends of its batch. The next
      // open writes a missing genesis record again.
      if (!writer.last) {
        log.appendGenesis().catch((error: unknown) => logger.error({ err: error }, 'audit genesis record failed'))
      }
      if (recovery) {
        log.appendRecovery(recovery).catch((error: unknown) => logger.error({ err: error }, 'audit recovery record failed'))
      }
      log.startCheckpointTimer(checkpointSeconds)
      return log
    } catch (error) {
      db?.close()
      releaseLock(lockPath)
      throw error
    }
  }

  append(input: AuditInput): Promise<AuditRecord> {
    if (this.closed) return Promise.reject(new Error('audit log is closed; open it again to append'))
    return this.writer.enqueue(input)
  }

  /**
   * Appends the inputs in order. The promise rejects when any of them fails,
   * but the others still commit, because each input is validated alone.
   */
  appendMany(inputs: AuditInput[]): Promise<AuditRecord[]> {
    return Promise.all(inputs.map((input) => this.append(input)))
  }

  /** Calls the listener with each committed record, in seq order. Returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  /** Returns matching committed records, newest first. */
  query(options: QueryOptions = {}): AuditRecord[] {
    return this.store.query(options)
  }

  /** Returns the newest committed record, null for an empty log. */
  lastRecord(): AuditRecord | null {
    return this.writer.last
  }

  /** Number of fdatasync calls on the JSONL since open; each is one batch. */
  get syncCount(): number {
    return this.jsonl.syncCount
  }

  /** Sizes of the batches committed since open. */
  get batchSizes(): readonly number[] {
    return this.writer.batchSizes
  }

  /** Returns the public key and every stored checkpoint, to keep a copy off the host. */
  exportCheckpoints(): CheckpointExport {
    return this.checkpointer.export()
  }

  /** Signs a checkpoint of the newest record now, unless one exists; resolves with its seq or null. */
  checkpoint(): Promise<number | null> {
    return this.writer.exclusive(() => {
      const last = this.writer.last
      return last ? (this.checkpointer.writeFor(last)?.seq ?? null) : null
    })
  }

  /**
   * Recomputes every hash, HMAC, link and checkpoint, and compares the JSONL
   * with the database, over the records committed so far. It runs
   * synchronously and blocks the event loop: the append benchmark measured
   * 3 to 5 s for 200,000 records on a loaded two-core machine.
   */
  verify(options: VerifyOptions = {}): VerifyReport {
    const report = verifyStores({
      store: this.store,
      // Lines of a batch that is still syncing are not committed yet.
      jsonl: readJsonl(this.options.jsonlPath, this.jsonl.size),
      trustedKey: this.keys.publicKey,
      hmacKey: this.hmacKey,
      externalCheckpoints: options.externalCheckpoints,
    })
    if (!report.crash && this.recovery) report.crash = this.recovery
    return report
  }

  /**
   * Prunes old records, keeping the chain verifiable from a checkpoint of
   * the last pruned one. An AUDIT_PRUNED record that names the range is
   * committed first: verify accepts a pruned range only when such a record
   * announces it. A crash between the two leaves an announcement without
   * a prune, which verify accepts.
   */
  async prune(options: PruneOptions): Promise<PruneResult> {
    const target = pruneTarget(this.store, this.writer.last, options)
    if (target <= Math.max(1, this.store.prunedThrough())) return { pruned: 0, throughSeq: 0 }
    await this.append({
      type: 'AUDIT_PRUNED',
      severity: 'info',
      description: `retention prunes records 2 to ${target}`,
      service: null,
      pid: process.pid,
      actor: 'audit',
      metadata: { throughSeq: target, maxRecords: options.maxRecords ?? null, maxAgeDays: options.maxAgeDays ?? null },
    })
    return this.writer.exclusive(() => pruneRecords(this.store, this.jsonl, this.checkpointer, target, options))
  }

  /** Commits every queued append, signs a final checkpoint and closes both stores. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      if (this.checkpointTimer) clearInterval(this.checkpointTimer)
      await this.writer.flush()
      await this.checkpoint()
      this.writer.fail(new Error('audit log is closed; open it again to append'))
      this.jsonl.close()
      this.db.close()
      releaseLock(this.lockPath)
    })()
    return this.closed
  }

  private notify(records: AuditRecord[]): void {
    for (const record of records) {
      for (const listener of this.listeners) {
        try {
          listener(record)
        } catch (error) {
          // A subscriber's bug must not stop the others or the writer.
          this.logger.error({ err: error, seq: record.seq }, 'audit subscriber failed')
        }
      }
    }
  }

  private appendGenesis(): Promise<AuditRecord> {
    return this.writer.enqueue({
      type: 'AUDIT_GENESIS',
      severity: 'info',
      description: 'audit log created',
      service: null,
      pid: process.pid,
      actor: 'audit',
      metadata: {
        format: 1,
        hmacKeyFingerprint: keyFingerprint(this.hmacKey),
        checkpointPublicKey: this.keys.publicKeyText,
        configHash: this.options.configHash ?? null,
      },
    })
  }

  private appendRecovery(recovery: CrashFinding): Promise<AuditRecord> {
    return this.writer.enqueue({
      type: 'AUDIT_RECOVERED',
      severity: recovery.restoredLines > 0 ? 'high' : 'medium',
      description: 'audit log repaired after an unclean stop',
      service: null,
      pid: process.pid,
      actor: 'audit',
      metadata: { ...recovery },
    })
  }

  private startCheckpointTimer(seconds: number): void {
    this.checkpointTimer = setInterval(() => {
      this.checkpoint().catch((error: unknown) => {
        this.logger.error({ err: error, seq: this.writer.last?.seq ?? null }, 'audit checkpoint failed')
      })
    }, seconds * 1000)
    this.checkpointTimer.unref()
  }
}

/**
 * Rejects keys that differ from the ones the genesis record names: records
 * sealed with another key would make the chain fail verification.
 */
function checkGenesisKeys(store: AuditStore, keys: CheckpointKeys, hmacKey: Buffer | null): void {
  const genesis = store.recordAt(1)
  if (!genesis) return
  const fingerprint = genesis.metadata.hmacKeyFingerprint ?? null
  if (fingerprint !== keyFingerprint(hmacKey)) {
    throw new Error(
      `the HMAC key (fingerprint ${keyFingerprint(hmacKey)}) differs from the one the genesis record names (${fingerprint}); restore the original key`,
    )
  }
  if (genesis.metadata.checkpointPublicKey !== keys.publicKeyText) {
    throw new Error('the checkpoint key in keyDir differs from the one the genesis record names; restore the original key pair')
  }
}

