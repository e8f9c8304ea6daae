import type { AuditRecord } from '../types.js'
import { canonicalJson, GENESIS_PREV_HASH, recordLine, sealRecord } from './canonical.js'
import { appendAndSync, fileSize, readJsonl, replaceFile, truncateFile, type JsonlContents } from './jsonl.js'
import { lineSeq } from './retention.js'
import { rowToRecord, type AuditStore } from './store.js'
import type { CrashFinding } from './verify.js'

/**
 * Reconciles the JSONL and the database after a crash, before any append.
 *
 * A batch is written to the JSONL and fsynced first, then committed to the
 * database, and only then acknowledged. So a crash can leave:
 * 1. a torn last JSONL line (the write was cut off): never acknowledged and
 *    never in the database, so it is cut off;
 * 2. complete JSONL lines past the database's last record (fsynced, the
 *    commit did not happen or a power loss undid it under
 *    synchronous=NORMAL): they are inserted into the database when they
 *    continue its chain. Some were never acknowledged, but keeping a durable
 *    event is better for an audit log than dropping it;
 * 3. JSONL lines of records that retention pruned from the database: they
 *    are dropped, finishing the prune.
 * The database being ahead of the JSONL is no crash state of this order: it
 * means lost JSONL writes or a cut JSONL. Those records were acknowledged,
 * so their lines are restored from the database when the JSONL's last line
 * matches the database. The caller records the repair in the chain.
 * Anything else means tampering: the open fails and names `blackhole audit
 * verify`, because appending would link new records to a chain in doubt.
 */
export function recoverStores(store: AuditStore, jsonlPath: string, hmacKey: Buffer | null): CrashFinding | null {
  const finding: CrashFinding = { tornTailBytes: 0, uncommittedLines: 0, unfinishedPruneLines: 0, restoredLines: 0, repaired: true }
  let contents = readTail(jsonlPath)
  if (contents.tornTail.length > 0) {
    finding.tornTailBytes = Buffer.byteLength(contents.tornTail)
    truncateFile(jsonlPath, contents.completeBytes)
  }

  const prunedThrough = store.prunedThrough()
  const second = readJsonl(jsonlPath, HEAD_BYTES).lines[1]
  if (prunedThrough > 1 && second && (lineSeq(second.text) ?? 0) <= prunedThrough) {
    const all = readJsonl(jsonlPath).lines
    const kept = all.filter((line) => {
      const seq = lineSeq(line.text)
      return seq === null || seq <= 1 || seq > prunedThrough
    })
    finding.unfinishedPruneLines = all.length - kept.length
    replaceFile(jsonlPath, kept.map((line) => `${line.text}\n`).join(''))
    contents = readTail(jsonlPath)
  }

  const dbLast = store.lastRecord()
  const lastLine = contents.lines.at(-1)
  const jsonlLastSeq = lastLine ? lineSeq(lastLine.text) : 0
  if (jsonlLastSeq === null) {
    throw new Error(`the last line of ${jsonlPath} is not an audit record; run blackhole audit verify before starting`)
  }
  const dbLastSeq = dbLast?.seq ?? 0

  if (jsonlLastSeq > dbLastSeq) {
    const count = jsonlLastSeq - dbLastSeq
    if (count > contents.lines.length) contents = readJsonl(jsonlPath)
    const tail = contents.lines.slice(-count).map((line) => line.text)
    const records = chainedTail(tail, dbLast, hmacKey)
    if (!records) {
      throw new Error(
        `${jsonlPath} has ${count} records past the database's last record ${dbLastSeq} that do not continue its chain; run blackhole audit verify before starting`,
      )
    }
    store.insertBatch(records, records.map((record) => canonicalJson(record.metadata)), [])
    finding.uncommittedLines = records.length
  } else if (jsonlLastSeq < dbLastSeq) {
    if (jsonlLastSeq > 0 && store.recordAt(jsonlLastSeq) && recordLine(store.recordAt(jsonlLastSeq)!) !== lastLine!.text) {
      throw new Error(
        `${jsonlPath} ends at record ${jsonlLastSeq}, which differs from the database; run blackhole audit verify before starting`,
      )
    }
    const lines: string[] = []
    for (const row of store.iterateRows(jsonlLastSeq + 1)) {
      lines.push(`${recordLine(rowToRecord(row), row.metadata)}\n`)
    }
    appendAndSync(jsonlPath, lines.join(''))
    finding.restoredLines = lines.length
  }

  const found = finding.tornTailBytes + finding.uncommittedLines + finding.unfinishedPruneLines + finding.restoredLines
  return found > 0 ? finding : null
}

/** Bytes read from the start of the JSONL to find its second line. */
const HEAD_BYTES = 64 * 1024
/**
 * Bytes read from the end of the JSONL. A crash leaves at most one batch
 * there, and this covers a maxBatch of 5,000 lines of about 800 bytes. A
 * longer tail falls back to reading the whole file.
 */
const TAIL_BYTES = 4 * 1024 * 1024

/** Reads the last TAIL_BYTES of the JSONL, or all of it when no newline falls inside them. */
function readTail(path: string): JsonlContents {
  const size = fileSize(path)
  if (size <= TAIL_BYTES) return readJsonl(path)
  const tail = readJsonl(path, undefined, size - TAIL_BYTES)
  return tail.lines.length > 0 ? tail : readJsonl(path)
}

/** Parses JSONL lines and returns them as records when they continue the chain from `last`, else null. */
function chainedTail(lines: string[], last: AuditRecord | null, hmacKey: Buffer | null): AuditRecord[] | null {
  const records: AuditRecord[] = []
  let previous = last
  for (const text of lines) {
    let record: AuditRecord
    try {
      record = JSON.parse(text) as AuditRecord
    } catch {
      return null
    }
    const expectedSeq = (previous?.seq ?? 0) + 1
    const expectedPrev = previous?.hash ?? GENESIS_PREV_HASH
    const { hash, hmac } = sealRecord(record, hmacKey)
    const valid =
      record.seq === expectedSeq &&
      record.prevHash === expectedPrev &&
      recordLine(record) === text &&
      hash === record.hash &&
      (!hmacKey || hmac === record.hmac)
    if (!valid) return null
    records.push(record)
    previous = record
  }
  return records
}
