import Database from 'better-sqlite3'
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  AuditLog,
  auditPaths,
  formatVerifyReport,
  sealRecord,
  verifyDataDir,
  verifyExitCode,
  type CheckpointExport,
} from '../../src/audit/index.js'
import type { AuditRecord } from '../../src/types.js'
import { canonicalJson } from '../../src/audit/canonical.js'

// One real data folder with 500 records (genesis + 499) is written once.
// Each test attacks its own copy, as an attacker with root on the host would.
let root: string
let original: string
let copy: string
let exported: CheckpointExport
const hmacKey = Buffer.alloc(32, 9)
let copies = 0

function paths(dir = copy) {
  return auditPaths(dir)
}

function attackDb(dir = copy): Database.Database {
  const db = new Database(paths(dir).dbPath)
  db.exec(`DROP TRIGGER AuditEvent_no_update; DROP TRIGGER AuditEvent_no_delete;
    DROP TRIGGER AuditCheckpoint_no_update; DROP TRIGGER AuditCheckpoint_no_delete`)
  return db
}

function jsonlLines(dir = copy): string[] {
  return readFileSync(paths(dir).jsonlPath, 'utf8').split('\n').filter(Boolean)
}

function writeJsonl(lines: string[], dir = copy): void {
  writeFileSync(paths(dir).jsonlPath, lines.map((line) => `${line}\n`).join(''))
}

function event(index: number) {
  return {
    service: 'web',
    pid: 4000 + index,
    type: 'SYSCALL_OBSERVED',
    severity: 'info' as const,
    description: `connect number ${index}`,
    metadata: { index },
    actor: 'supervisor',
  }
}

async function writeLog(dir: string, key: Buffer): Promise<CheckpointExport> {
  const log = AuditLog.open({ ...paths(dir), hmacKey: key, checkpointEvery: 100 })
  await Promise.all(Array.from({ length: 499 }, (_, index) => log.append(event(index))))
  await log.close()
  const reopened = AuditLog.open({ ...paths(dir), hmacKey: key, checkpointEvery: 100 })
  const checkpoints = reopened.exportCheckpoints()
  await reopened.close()
  return checkpoints
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'blackhole-tamper-'))
  original = join(root, 'original')
  exported = await writeLog(original, hmacKey)
  writeFileSync(join(paths(original).keyDir, 'audit-hmac.key'), hmacKey)
})

afterAll(() => {
  rmSync(root, { recursive: true, force: true })
})

beforeEach(() => {
  copies += 1
  copy = join(root, `copy-${copies}`)
  cpSync(original, copy, { recursive: true })
})

describe('audit verify on an intact copy', () => {
  it('reports ok', () => {
    const report = verifyDataDir(copy)
    expect(report.problems).toEqual([])
    expect(report.ok).toBe(true)
    expect(report.records).toBe(500)
    expect(report.lastCheckpoint?.seq).toBe(500)
    expect(report.crash).toBeNull()
    expect(verifyExitCode(report)).toBe(0)
    expect(formatVerifyReport(report)).toMatch(/^audit log: OK, 500 records \(seq 1 to 500\)/)
  })

  it('accepts the exported checkpoints', () => {
    const report = verifyDataDir(copy, { externalCheckpoints: exported })
    expect(report.ok).toBe(true)
    expect(report.lastCheckpoint?.seq).toBe(500)
  })
})

describe('audit verify on a tampered copy', () => {
  it('names an edited record', () => {
    const db = attackDb()
    db.prepare(`UPDATE AuditEvent SET description = 'nothing happened' WHERE seq = 200`).run()
    db.close()
    const report = verifyDataDir(copy)
    expect(report.ok).toBe(false)
    expect(report.firstBad?.seq).toBe(200)
    expect(report.firstBad?.kind).toBe('edited')
    expect(verifyExitCode(report)).toBe(1)
    expect(formatVerifyReport(report)).toMatch(/first bad record: seq 200 \(edited\)/)
  })

  it('names an edit with a recomputed hash', () => {
    // Without the HMAC key the attacker can fix the hash but not the HMAC.
    const db = attackDb()
    const row = db.prepare(`SELECT * FROM AuditEvent WHERE seq = 200`).get() as AuditRecord & { metadata: string }
    const forged = { ...row, metadata: JSON.parse(row.metadata) as Record<string, unknown>, description: 'forged' }
    const { hash } = sealRecord(forged, null)
    db.prepare(`UPDATE AuditEvent SET description = 'forged', hash = ? WHERE seq = 200`).run(hash)
    db.close()
    const report = verifyDataDir(copy)
    expect(report.ok).toBe(false)
    expect(report.firstBad?.seq).toBe(200)
    expect(report.firstBad?.kind).toBe('edited')
  })

  it('names a deleted record', () => {
    const db = attackDb()
    db.prepare(`DELETE FROM AuditEvent WHERE seq = 200`).run()
    db.close()
    const report = verifyDataDir(copy)
    expect(report.ok).toBe(false)
    expect(report.firstBad?.seq).toBe(200)
    expect(report.firstBad?.kind).toBe('deleted')
  })

  it('names a deletion with renumbering', () => {
    const db = attackDb()
    db.prepare(`DELETE FROM AuditEvent WHERE seq = 200`).run()
    db.prepare(`UPDATE AuditEvent SET seq = seq - 1 WHERE seq > 200`).run()
    db.close()
    const report = verifyDataDir(copy)
    expect(report.ok).toBe(false)
    expect(report.firstBad?.seq).toBe(200)
    expect(report.firstBad?.kind).toBe('deleted')
  })

  it('names swapped records as reordered', () => {
    const db = attackDb()
    const columns = ['time', 'service', 'pid', 'type', 'severity', 'description', 'metadata', 'actor', 'prevHash', 'hash', 'hmac']
    const a = db.prepare(`SELECT * FROM AuditEvent WHERE seq = 200`).get() as Record<string, unknown>
    const b = db.prepare(`SELECT * FROM AuditEvent WHERE seq = 300`).get() as Record<string, unknown>
    const update = db.prepare(`UPDATE AuditEvent SET ${columns.map((column) => `${column} = @${column}`).join(', ')} WHERE seq = @seq`)
    update.run({ ...b, seq: 200 })
    update.run({ ...a, seq: 300 })
    db.close()
    const report = verifyDataDir(copy)
    expect(report.ok).toBe(false)
    expect(report.firstBad?.seq).toBe(200)
    expect(report.firstBad?.kind).toBe('reordered')
  })

  it('catches a cut-off tail by the checkpoint', () => {
    const db = attackDb()
    db.prepare(`DELETE FROM AuditEvent WHERE seq > 450`).run()
    db.close()
    writeJsonl(jsonlLines().slice(0, 450))
    const report = verifyDataDir(copy)
    expect(report.ok).toBe(false)
    expect(report.lastSeq).toBe(450)
    expect(report.firstBad?.seq).toBe(451)
    expect(report.firstBad?.kind).toBe('truncated')
  })

  it('catches a cut-off tail by external checkpoints', () => {
    // The attacker also removes the checkpoints that name the removed records.
    const db = attackDb()
    db.prepare(`DELETE FROM AuditEvent WHERE seq > 450`).run()
    db.prepare(`DELETE FROM AuditCheckpoint WHERE seq > 450`).run()
    db.close()
    writeJsonl(jsonlLines().slice(0, 450))
    expect(verifyDataDir(copy).ok).toBe(true)
    const file = join(copy, 'offsite-checkpoints.json')
    writeFileSync(file, JSON.stringify(exported))
    const report = verifyDataDir(copy, { externalCheckpoints: file })
    expect(report.ok).toBe(false)
    expect(report.firstBad?.seq).toBe(451)
    expect(report.firstBad?.kind).toBe('truncated')
  })

  it('catches a chain rewritten with new keys', async () => {
    // The attacker writes a fresh chain with their own HMAC and checkpoint
    // keys and puts its stores in place, but not the keys folder.
    const forgedDir = join(root, `forged-${copies}`)
    await writeLog(forgedDir, Buffer.alloc(32, 66))
    cpSync(paths(forgedDir).dbPath, paths().dbPath)
    cpSync(paths(forgedDir).jsonlPath, paths().jsonlPath)
    const report = verifyDataDir(copy)
    expect(report.ok).toBe(false)
    expect(report.firstBad?.seq).toBe(1)
    expect(report.firstBad?.kind).toBe('rekeyed')
    expect(report.problems.some((problem) => problem.message.includes('checkpoint'))).toBe(true)
  })

  it('catches new keys against external checkpoints', async () => {
    // Here the attacker replaces the keys folder too. Only the copy kept
    // off the host still names the original key.
    const forgedDir = join(root, `forged-keys-${copies}`)
    await writeLog(forgedDir, hmacKey)
    rmSync(copy, { recursive: true })
    cpSync(forgedDir, copy, { recursive: true })
    expect(verifyDataDir(copy).ok).toBe(true)
    const report = verifyDataDir(copy, { externalCheckpoints: exported })
    expect(report.ok).toBe(false)
    expect(report.firstBad?.seq).toBe(1)
    expect(report.firstBad?.kind).toBe('rekeyed')
  })

  it('names a prune without announcement', () => {
    // A grant with an existing checkpoint passes the DELETE trigger, so an
    // attacker with database access can delete through it without dropping
    // triggers. No AUDIT_PRUNED record in the chain announces it.
    const through = exported.checkpoints.find((checkpoint) => checkpoint.seq > 200 && checkpoint.seq < 450)!.seq
    const db = new Database(paths().dbPath)
    db.prepare(`INSERT INTO AuditPruneGrant (throughSeq, time, reason) VALUES (?, 't', 'cleanup')`).run(through)
    db.prepare(`DELETE FROM AuditEvent WHERE seq > 1 AND seq <= ?`).run(through)
    db.close()
    writeJsonl(jsonlLines().filter((_, index) => index === 0 || index >= through))
    const report = verifyDataDir(copy)
    expect(report.ok).toBe(false)
    expect(report.firstBad?.seq).toBe(2)
    expect(report.firstBad?.kind).toBe('deleted')
    expect(report.firstBad?.message).toMatch(/no AUDIT_PRUNED record/)
  })

  it('names a JSONL line that differs', () => {
    const lines = jsonlLines()
    const record = JSON.parse(lines[299]!) as AuditRecord
    lines[299] = canonicalJson({ ...record, description: 'edited in the file' })
    writeJsonl(lines)
    const report = verifyDataDir(copy)
    expect(report.ok).toBe(false)
    expect(report.firstBad?.seq).toBe(300)
    expect(report.firstBad?.kind).toBe('jsonl-mismatch')
  })

  it('names a line missing from the JSONL', () => {
    const lines = jsonlLines()
    lines.splice(299, 1)
    writeJsonl(lines)
    const report = verifyDataDir(copy, { repair: false })
    expect(report.ok).toBe(false)
    expect(report.firstBad?.seq).toBe(300)
    expect(report.firstBad?.kind).toBe('jsonl-mismatch')
  })

  it('names an extra JSONL line', () => {
    const lines = jsonlLines()
    lines.splice(100, 0, lines[100]!)
    writeJsonl(lines)
    const report = verifyDataDir(copy)
    expect(report.ok).toBe(false)
    expect(report.firstBad?.kind).toBe('jsonl-mismatch')
    expect(report.firstBad?.seq).toBe(102)
  })
})

describe('audit verify after a crash', () => {
  it('reports a torn last line as a crash', () => {
    appendFileSync(paths().jsonlPath, '{"actor":"supervisor","description":"conn')
    const report = verifyDataDir(copy, { repair: false })
    expect(report.ok).toBe(true)
    expect(report.crash?.tornTailBytes).toBe(41)
    expect(report.crash?.repaired).toBe(false)
    expect(verifyExitCode(report)).toBe(2)
    expect(formatVerifyReport(report)).toMatch(/crash: a torn last JSONL line of 41 bytes; not repaired/)
  })

  it('repairs a torn last line on open', async () => {
    appendFileSync(paths().jsonlPath, '{"actor":"supervisor","description":"conn')
    const log = AuditLog.open({ ...paths(), hmacKey })
    expect(log.recovery?.tornTailBytes).toBe(41)
    const next = await log.append(event(1000))
    expect(next.seq).toBe(502)
    const report = log.verify()
    await log.close()
    expect(report.problems).toEqual([])
    expect(report.ok).toBe(true)
    const recovered = JSON.parse(jsonlLines()[500]!) as AuditRecord
    expect(recovered.type).toBe('AUDIT_RECOVERED')
    expect(recovered.metadata.tornTailBytes).toBe(41)
    expect(readFileSync(paths().jsonlPath, 'utf8').endsWith('\n')).toBe(true)
  })

  it('repairs a torn last line in verify', () => {
    appendFileSync(paths().jsonlPath, '{"seq":50')
    const report = verifyDataDir(copy)
    expect(report.ok).toBe(true)
    expect(report.crash?.repaired).toBe(true)
    expect(verifyExitCode(report)).toBe(2)
    const again = verifyDataDir(copy)
    expect(again.crash).toBeNull()
    expect(verifyExitCode(again)).toBe(0)
  })

  it('rolls fsynced lines forward into the database', async () => {
    // A crash after the JSONL fsync and before the database commit leaves
    // complete, chained lines that the database lacks.
    const lines = jsonlLines()
    let previous = JSON.parse(lines.at(-1)!) as AuditRecord
    const extra: string[] = []
    for (let seq = 501; seq <= 503; seq += 1) {
      const unsealed = { seq, time: new Date().toISOString(), ...event(seq), prevHash: previous.hash }
      const record = { ...unsealed, ...sealRecord(unsealed, hmacKey) }
      extra.push(canonicalJson(record))
      previous = record
    }
    writeJsonl([...lines, ...extra])
    const before = verifyDataDir(copy, { repair: false })
    expect(before.ok).toBe(true)
    expect(before.crash?.uncommittedLines).toBe(3)
    const log = AuditLog.open({ ...paths(), hmacKey })
    expect(log.recovery?.uncommittedLines).toBe(3)
    expect(log.query({ limit: 1, type: 'SYSCALL_OBSERVED' })[0]?.seq).toBe(503)
    await log.close()
    expect(verifyDataDir(copy).ok).toBe(true)
  })

  it('restores JSONL lines from the database on open', async () => {
    writeJsonl(jsonlLines().slice(0, 497))
    expect(verifyDataDir(copy, { repair: false }).ok).toBe(false)
    const log = AuditLog.open({ ...paths(), hmacKey })
    expect(log.recovery?.restoredLines).toBe(3)
    await log.close()
    const lines = jsonlLines()
    expect(lines).toHaveLength(501)
    const recovered = JSON.parse(lines[500]!) as AuditRecord
    expect(recovered.type).toBe('AUDIT_RECOVERED')
    expect(recovered.severity).toBe('high')
    expect(verifyDataDir(copy).ok).toBe(true)
  })

  it('fails to open on a forked JSONL', () => {
    const lines = jsonlLines()
    const last = JSON.parse(lines.at(-1)!) as AuditRecord
    const unsealed = { seq: 501, time: new Date().toISOString(), ...event(501), prevHash: 'f'.repeat(64) }
    writeJsonl([...lines, canonicalJson({ ...unsealed, ...sealRecord(unsealed, hmacKey) })])
    expect(last.seq).toBe(500)
    expect(() => AuditLog.open({ ...paths(), hmacKey })).toThrow(/do not continue its chain; run blackhole audit verify/)
  })

  it('finishes a prune cut short before the JSONL rewrite', async () => {
    const before = readFileSync(paths().jsonlPath)
    const log = AuditLog.open({ ...paths(), hmacKey })
    await log.prune({ maxRecords: 100 })
    await log.close()
    const pruned = jsonlLines()
    // Put back the pre-prune JSONL plus the lines written since.
    writeFileSync(paths().jsonlPath, Buffer.concat([before, Buffer.from(pruned.slice(101).map((line) => `${line}\n`).join(''))]))
    const report = verifyDataDir(copy, { repair: false })
    expect(report.problems).toEqual([])
    expect(report.crash?.unfinishedPruneLines).toBe(399)
    const repaired = verifyDataDir(copy)
    expect(repaired.crash?.repaired).toBe(true)
    expect(jsonlLines()).toHaveLength(pruned.length)
  })
})
