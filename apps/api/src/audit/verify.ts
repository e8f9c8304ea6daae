import type { KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { AuditRecord } from '../types.js'
import { GENESIS_PREV_HASH, keyFingerprint, recordLine, sealRecord } from './canonical.js'
import type { JsonlContents } from './jsonl.js'
import { checkCheckpointSignature, parsePublicKey, publicKeyText } from './keys.js'
import { rowToRecord, type AuditStore, type CheckpointRow } from './store.js'

/**
 * Kinds of problem that verify reports:
 * - edited: the record's fields no longer produce its hash or HMAC;
 * - deleted: a seq is missing, or a record does not link to the one before;
 * - reordered: a record links to a record other than its predecessor;
 * - truncated: a checkpoint names a seq beyond the last record;
 * - rekeyed: the genesis record or a checkpoint names a key other than the
 *   trusted one, or a checkpoint signature does not verify;
 * - jsonl-mismatch: the JSONL file lacks a record, has an extra line or a
 *   line that differs from the database.
 */
export type ProblemKind = 'edited' | 'deleted' | 'reordered' | 'truncated' | 'rekeyed' | 'jsonl-mismatch'

export interface VerifyProblem {
  seq: number
  kind: ProblemKind
  message: string
}

/** Damage that a crash explains, as opposed to tampering. */
export interface CrashFinding {
  /** Bytes of a partial last JSONL line (written without its newline). */
  tornTailBytes: number
  /** Complete JSONL lines past the database's last record that continue the chain: fsynced, not yet committed to the database. */
  uncommittedLines: number
  /** JSONL lines of records that retention already pruned from the database. */
  unfinishedPruneLines: number
  /** JSONL lines restored from the database (records the JSONL lacked). */
  restoredLines: number
  /** True when open() repaired the finding. */
  repaired: boolean
}

export interface CheckpointSummary {
  seq: number
  hash: string
  time: string
  source: 'database' | 'external'
}

export interface VerifyReport {
  /** False when any record shows tampering; a crash alone leaves it true. */
  ok: boolean
  /** Number of records in the database. */
  records: number
  firstSeq: number | null
  lastSeq: number | null
  firstBad: VerifyProblem | null
  /** Up to MAX_PROBLEMS problems, in the order found. */
  problems: VerifyProblem[]
  /** Number of problems found, including those left out of `problems`. */
  problemCount: number
  crash: CrashFinding | null
  lastCheckpoint: CheckpointSummary | null
  /** Checks that could not run, such as the HMAC without its key. */
  notes: string[]
}

/** Checkpoints kept off the host, in the form exportCheckpoints() returns. */
export interface CheckpointExport {
  publicKey: string
  checkpoints: { seq: number; time: string; hash: string; signature: string }[]
}

export interface VerifyInputs {
  store: AuditStore
  jsonl: JsonlContents
  /** The trusted checkpoint key from keyDir; null when keyDir has none. */
  trustedKey: KeyObject | null
  hmacKey: Buffer | null
  externalCheckpoints?: CheckpointExport | string
}

export const MAX_PROBLEMS = 100

/** Reads and checks an external checkpoint file. */
export function readCheckpointExport(path: string): CheckpointExport {
  let parsed: CheckpointExport
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as CheckpointExport
  } catch (error) {
    throw new Error(`cannot read checkpoint file ${path}: ${(error as Error).message}`, { cause: error })
  }
  if (typeof parsed.publicKey !== 'string' || !Array.isArray(parsed.checkpoints)) {
    throw new Error(`checkpoint file ${path} is invalid; expected {"publicKey": ..., "checkpoints": [...]} from exportCheckpoints()`)
  }
  return parsed
}

/** Recomputes the chain, the checkpoints and the JSONL against the database. */
export function verifyStores(inputs: VerifyInputs): VerifyReport {
  const { store } = inputs
  // One read transaction gives a consistent snapshot, and the JSONL was read
  // after the caller's last commit, so every record here is in the JSONL.
  return store.db.transaction(() => new Verifier(inputs).run())()
}

class Verifier {
  private readonly problems: VerifyProblem[] = []
  private readonly notes: string[] = []
  private readonly store: AuditStore
  private readonly hmacKey: Buffer | null
  private trustedKey: KeyObject | null
  private trustedKeyText: string | null
  private external: CheckpointExport | null = null
  private readonly prunedThrough: number
  /**
   * Highest throughSeq of the AUDIT_PRUNED records. A prune grant alone can
   * be inserted by anyone who can write the database. The announcing
   * record is part of the chain, so a forged one breaks the HMAC or a
   * checkpoint.
   */
  private readonly announcedPruneThrough: number
  private readonly checkpoints: CheckpointRow[]
  /** Hashes of the records that checkpoints name, filled during the walk. */
  private readonly hashAt = new Map<number, string>()
  private readonly crash: CrashFinding = {
    tornTailBytes: 0,
    uncommittedLines: 0,
    unfinishedPruneLines: 0,
    restoredLines: 0,
    repaired: false,
  }
  private problemCount = 0
  private jsonlIndex = 0
  private jsonlDone = false

  constructor(private readonly inputs: VerifyInputs) {
    this.store = inputs.store
    this.hmacKey = inputs.hmacKey
    this.trustedKey = inputs.trustedKey
    this.trustedKeyText = inputs.trustedKey ? publicKeyText(inputs.trustedKey) : null
    this.prunedThrough = this.store.prunedThrough()
    this.announcedPruneThrough = announcedPruneThrough(this.store)
    this.checkpoints = this.store.checkpoints()
  }

  run(): VerifyReport {
    this.loadExternal()
    const checkpointSeqs = new Set(this.checkpoints.map((checkpoint) => checkpoint.seq))
    for (const checkpoint of this.external?.checkpoints ?? []) checkpointSeqs.add(checkpoint.seq)

    let previous: AuditRecord | null = null
    let first: AuditRecord | null = null
    let records = 0
    for (const row of this.store.iterateRows()) {
      records += 1
      let record: AuditRecord
      try {
        record = rowToRecord(row)
      } catch {
        this.report(row.seq, 'edited', `record ${row.seq} has metadata that is not valid JSON`)
        previous = { ...(row as unknown as AuditRecord) }
        continue
      }
      if (checkpointSeqs.has(record.seq)) this.hashAt.set(record.seq, record.hash)
      if (!first) first = record
      this.checkRecord(record, previous, row.metadata)
      this.compareJsonl(record, row.metadata)
      previous = record
    }
    if (!first) this.report(1, 'deleted', 'the database holds no audit records, not even the genesis record')
    this.checkJsonlTail(previous)
    const lastCheckpoint = this.checkCheckpoints(previous?.seq ?? 0, first?.seq ?? 0)

    const crash = this.crash
    const crashFound = crash.tornTailBytes + crash.uncommittedLines + crash.unfinishedPruneLines + crash.restoredLines > 0
    const firstBad = this.problems.reduce<VerifyProblem | null>(
      (best, problem) => (best === null || problem.seq < best.seq ? problem : best),
      null,
    )
    return {
      ok: this.problems.length === 0,
      records,
      firstSeq: first?.seq ?? null,
      lastSeq: previous?.seq ?? null,
      firstBad,
      problems: this.problems,
      problemCount: this.problemCount,
      crash: crashFound ? crash : null,
      lastCheckpoint,
      notes: this.notes,
    }
  }

  /**
   * Records a problem. The record walk may fill all but the last ten
   * places, so that checkpoint findings still show after a rewritten chain.
   */
  private report(seq: number, kind: ProblemKind, message: string, reserved = false): void {
    this.problemCount += 1
    const limit = reserved ? MAX_PROBLEMS : MAX_PROBLEMS - 10
    if (this.problems.length < limit) this.problems.push({ seq, kind, message })
  }

  private loadExternal(): void {
    const source = this.inputs.externalCheckpoints
    if (source === undefined) return
    this.external = typeof source === 'string' ? readCheckpointExport(source) : source
    const externalKey = parsePublicKey(this.external.publicKey, 'the external checkpoint file')
    const externalText = publicKeyText(externalKey)
    if (this.trustedKeyText !== null && this.trustedKeyText !== externalText) {
      this.report(1, 'rekeyed', 'the checkpoint key in keyDir differs from the one in the external checkpoint file: keyDir was replaced', true)
    }
    // The copy kept off the host is the stronger anchor, so it wins.
    this.trustedKey = externalKey
    this.trustedKeyText = externalText
  }

  /**
   * Checks one record. metadataJson is the stored text: it was written in
   * canonical form, so hashing it as stored also catches a rewrite that
   * only changed its formatting.
   */
  private checkRecord(record: AuditRecord, previous: AuditRecord | null, metadataJson: string): void {
    if (!previous) {
      this.checkGenesis(record, metadataJson)
      return
    }
    const expectedSeq = previous.seq + 1
    if (record.seq !== expectedSeq) {
      const anchoredPrune = previous.seq === 1 && record.seq - 1 <= this.prunedThrough
      if (anchoredPrune && record.seq - 1 > this.announcedPruneThrough) {
        this.report(2, 'deleted', `records 2 to ${record.seq - 1} were removed under a prune grant, but no AUDIT_PRUNED record in the chain announces that prune`)
        return
      }
      if (!anchoredPrune) {
        const last = record.seq - 1
        const range = last === expectedSeq ? `record ${expectedSeq} is` : `records ${expectedSeq} to ${last} are`
        this.report(expectedSeq, 'deleted', `${range} missing: seq jumps from ${previous.seq} to ${record.seq}`)
        return
      }
      // Retention pruned up to record.seq - 1; its checkpoint anchors record.prevHash.
      const anchor = this.checkpoints.find((checkpoint) => checkpoint.seq === record.seq - 1)
      if (!anchor || anchor.hash !== record.prevHash) {
        this.report(record.seq, 'deleted', `record ${record.seq} follows pruned records, but no checkpoint of record ${record.seq - 1} matches its prevHash`)
        return
      }
    } else if (record.prevHash !== previous.hash) {
      const linked = this.store.db.prepare(`SELECT seq FROM AuditEvent WHERE hash = ?`).get(record.prevHash) as
        | { seq: number }
        | undefined
      if (linked && linked.seq !== previous.seq) {
        this.report(record.seq, 'reordered', `record ${record.seq} links to record ${linked.seq}, not to ${previous.seq}: records were reordered`)
      } else {
        this.report(record.seq, 'deleted', `record ${record.seq} does not link to record ${previous.seq}: a record between them was removed, or ${previous.seq} was rewritten`)
      }
      return
    }
    this.checkSeal(record, metadataJson)
  }

  private checkSeal(record: AuditRecord, metadataJson: string): boolean {
    const { hash, hmac } = sealRecord(record, this.hmacKey, metadataJson)
    if (hash !== record.hash) {
      this.report(record.seq, 'edited', `record ${record.seq} does not match its hash: a field was changed`)
      return false
    }
    if (this.hmacKey && hmac !== record.hmac) {
      this.report(record.seq, 'edited', `record ${record.seq} has a valid hash but a wrong HMAC: it was rewritten without the HMAC key`)
      return false
    }
    return true
  }

  private checkGenesis(record: AuditRecord, metadataJson: string): void {
    if (record.seq !== 1 || record.type !== 'AUDIT_GENESIS') {
      this.report(1, 'deleted', `the first record is seq ${record.seq} of type ${record.type}; the genesis record (seq 1, AUDIT_GENESIS) is missing`)
      return
    }
    if (record.prevHash !== GENESIS_PREV_HASH) {
      this.report(1, 'edited', 'the genesis record does not link to 64 zeros')
      return
    }
    const metadata = record.metadata
    const fingerprint = (metadata.hmacKeyFingerprint ?? null) as string | null
    if (this.hmacKey) {
      if (fingerprint !== keyFingerprint(this.hmacKey)) {
        this.report(1, 'rekeyed', `the genesis record names HMAC key fingerprint ${fingerprint}, not the configured key's: the chain was rewritten with another key`)
        return
      }
    } else if (fingerprint !== null) {
      this.notes.push(`the chain has HMACs (key fingerprint ${fingerprint}), but no HMAC key was given, so they were not checked`)
    }
    const genesisKey = (metadata.checkpointPublicKey ?? null) as string | null
    if (this.trustedKeyText === null) {
      if (genesisKey) {
        this.trustedKey = parsePublicKey(genesisKey, 'the genesis record')
        this.trustedKeyText = genesisKey
        this.notes.push('no trusted checkpoint key was found, so the one named by the genesis record was used: a rewritten chain would pass')
      }
    } else if (genesisKey !== this.trustedKeyText) {
      this.report(1, 'rekeyed', 'the genesis record names a checkpoint key other than the trusted one: the chain was rewritten with another key')
      return
    }
    this.checkSeal(record, metadataJson)
  }

  private compareJsonl(record: AuditRecord, metadataJson: string): void {
    if (this.jsonlDone) return
    const { lines } = this.inputs.jsonl
    const expected = recordLine(record, metadataJson)
    while (this.jsonlIndex < lines.length) {
      const line = lines[this.jsonlIndex]!
      if (line.text === expected) {
        this.jsonlIndex += 1
        return
      }
      const lineNumber = this.jsonlIndex + 1
      const seq = lineSeq(line.text)
      if (seq !== null && seq > 1 && seq <= this.prunedThrough && seq < record.seq) {
        this.crash.unfinishedPruneLines += 1
        this.jsonlIndex += 1
        continue
      }
      if (seq === record.seq) {
        this.report(record.seq, 'jsonl-mismatch', `JSONL line ${lineNumber} differs from record ${record.seq} in the database`)
        this.jsonlIndex += 1
        return
      }
      if (seq !== null && seq > record.seq) {
        this.report(record.seq, 'jsonl-mismatch', `record ${record.seq} is missing from the JSONL (line ${lineNumber} holds seq ${seq})`)
        return
      }
      this.report(record.seq, 'jsonl-mismatch', `JSONL line ${lineNumber} (seq ${seq ?? 'unreadable'}) is not in the database at this position`)
      this.jsonlIndex += 1
    }
    this.report(record.seq, 'jsonl-mismatch', `the JSONL ends before record ${record.seq}: records from ${record.seq} on are missing from it`)
    this.jsonlDone = true
  }

  /** Classifies the lines after the database's last record and the torn tail. */
  private checkJsonlTail(last: AuditRecord | null): void {
    const { lines, tornTail } = this.inputs.jsonl
    this.crash.tornTailBytes = Buffer.byteLength(tornTail)
    if (this.jsonlDone) return
    let previous = last
    for (let index = this.jsonlIndex; index < lines.length; index += 1) {
      const record = parseLine(lines[index]!.text)
      const continues =
        record !== null &&
        previous !== null &&
        record.seq === previous.seq + 1 &&
        record.prevHash === previous.hash &&
        recordLine(record) === lines[index]!.text &&
        sealMatches(record, this.hmacKey)
      if (!continues) {
        const seq = record?.seq ?? (previous ? previous.seq + 1 : 1)
        this.report(seq, 'jsonl-mismatch', `JSONL line ${index + 1} is not in the database and does not continue the chain`)
        return
      }
      this.crash.uncommittedLines += 1
      previous = record
    }
  }

  private checkCheckpoints(lastSeq: number, firstSeq: number): CheckpointSummary | null {
    let latest: CheckpointSummary | null = null
    const sources: [CheckpointSummary['source'], { seq: number; time: string; hash: string; signature: string; publicKey?: string }[]][] = [
      ['database', this.checkpoints],
      ['external', this.external?.checkpoints ?? []],
    ]
    for (const [source, list] of sources) {
      for (const checkpoint of list) {
        if (!this.checkCheckpoint(checkpoint, source, lastSeq, firstSeq)) continue
        if (!latest || checkpoint.seq > latest.seq) {
          latest = { seq: checkpoint.seq, hash: checkpoint.hash, time: checkpoint.time, source }
        }
      }
    }
    // NOTE: records after the newest checkpoint can be cut off unseen. The
    // timer (checkpointSeconds) and close() bound that window, and only a
    // checkpoint copy kept off the host survives an attacker who also
    // deletes checkpoints.
    if (!latest && lastSeq > 0) this.notes.push('no checkpoint exists yet, so a cut-off tail cannot be detected')
    return latest
  }

  private checkCheckpoint(
    checkpoint: { seq: number; time: string; hash: string; signature: string; publicKey?: string },
    source: CheckpointSummary['source'],
    lastSeq: number,
    firstSeq: number,
  ): boolean {
    const where = `the ${source} checkpoint of record ${checkpoint.seq}`
    if (!this.trustedKey || !this.trustedKeyText) {
      this.notes.push(`${where} was not checked: no trusted checkpoint key`)
      return false
    }
    if (checkpoint.publicKey !== undefined && checkpoint.publicKey !== this.trustedKeyText) {
      this.report(checkpoint.seq, 'rekeyed', `${where} was signed by a key other than the trusted one`, true)
      return false
    }
    if (!checkCheckpointSignature(this.trustedKey, checkpoint)) {
      this.report(checkpoint.seq, 'rekeyed', `${where} has a signature that the trusted key does not verify`, true)
      return false
    }
    if (checkpoint.seq > lastSeq) {
      this.report(lastSeq + 1, 'truncated', `${where} is beyond the last record ${lastSeq}: records ${lastSeq + 1} to ${checkpoint.seq} or more were cut off`, true)
      return true
    }
    const hash = this.hashAt.get(checkpoint.seq)
    if (hash === undefined) {
      const pruned = checkpoint.seq > 1 && checkpoint.seq <= this.prunedThrough
      if (!pruned && checkpoint.seq >= firstSeq) {
        this.report(checkpoint.seq, 'deleted', `${where} names a record that is missing`, true)
      }
      return true
    }
    if (hash !== checkpoint.hash) {
      this.report(checkpoint.seq, 'edited', `${where} signs a hash other than the record's: the chain was rewritten from here or before`, true)
    }
    return true
  }
}

function announcedPruneThrough(store: AuditStore): number {
  const rows = store.db.prepare(`SELECT metadata FROM AuditEvent WHERE type = 'AUDIT_PRUNED'`).all() as { metadata: string }[]
  let through = 0
  for (const row of rows) {
    try {
      const value = (JSON.parse(row.metadata) as { throughSeq?: unknown }).throughSeq
      if (Number.isInteger(value)) through = Math.max(through, value as number)
    } catch {
      // The record walk reports the broken record itself.
    }
  }
  return through
}

function lineSeq(text: string): number | null {
  const record = parseLine(text)
  return record ? record.seq : null
}

function parseLine(text: string): AuditRecord | null {
  try {
    const value = JSON.parse(text) as AuditRecord
    return value && typeof value === 'object' && Number.isInteger(value.seq) ? value : null
  } catch {
    return null
  }
}

function sealMatches(record: AuditRecord, hmacKey: Buffer | null): boolean {
  const { hash, hmac } = sealRecord(record, hmacKey)
  return hash === record.hash && (!hmacKey || hmac === record.hmac)
}

/** Returns the CLI exit code: 0 when ok, 1 when tampered, 2 when only a crash was found. */
export function verifyExitCode(report: VerifyReport): 0 | 1 | 2 {
  if (!report.ok) return 1
  return report.crash ? 2 : 0
}

/** Formats a report for `blackhole audit verify`. */
export function formatVerifyReport(report: VerifyReport): string {
  const lines: string[] = []
  const range = report.firstSeq === null ? 'none' : `seq ${report.firstSeq} to ${report.lastSeq}`
  lines.push(`audit log: ${report.ok ? 'OK' : 'TAMPERED'}, ${report.records} records (${range})`)
  if (report.lastCheckpoint) {
    const checkpoint = report.lastCheckpoint
    lines.push(`last checkpoint: seq ${checkpoint.seq} at ${checkpoint.time} (${checkpoint.source}), hash ${checkpoint.hash}`)
  } else {
    lines.push('last checkpoint: none')
  }
  if (report.firstBad) {
    lines.push(`first bad record: seq ${report.firstBad.seq} (${report.firstBad.kind}): ${report.firstBad.message}`)
  }
  for (const problem of report.problems.slice(0, 20)) {
    if (problem === report.firstBad) continue
    lines.push(`  also: seq ${problem.seq} (${problem.kind}): ${problem.message}`)
  }
  if (report.problemCount > 20) lines.push(`  and ${report.problemCount - 20} more problems`)
  if (report.crash) {
    const crash = report.crash
    const parts = [
      crash.tornTailBytes ? `a torn last JSONL line of ${crash.tornTailBytes} bytes` : '',
      crash.uncommittedLines ? `${crash.uncommittedLines} JSONL records not yet in the database` : '',
      crash.unfinishedPruneLines ? `${crash.unfinishedPruneLines} JSONL lines of pruned records` : '',
      crash.restoredLines ? `${crash.restoredLines} JSONL lines restored from the database` : '',
    ].filter(Boolean)
    lines.push(`crash: ${parts.join(', ')}; ${crash.repaired ? 'repaired' : 'not repaired (open the log to repair it)'}`)
  }
  for (const note of report.notes) lines.push(`note: ${note}`)
  return lines.join('\n')
}
