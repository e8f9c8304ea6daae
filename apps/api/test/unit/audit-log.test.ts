import Database from 'better-sqlite3'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AuditLog, auditPaths, GENESIS_PREV_HASH, sealRecord } from '../../src/audit/index.js'
import type { AuditInput, AuditRecord } from '../../src/types.js'

let dataDir: string
const open: AuditLog[] = []

function openLog(options: Partial<Parameters<typeof AuditLog.open>[0]> = {}): AuditLog {
  const log = AuditLog.open({ ...auditPaths(dataDir), checkpointEvery: 100, ...options })
  open.push(log)
  return log
}

function event(index: number, extra: Partial<AuditInput> = {}): AuditInput {
  return {
    service: index % 2 === 0 ? 'web' : 'db',
    pid: 1000 + index,
    type: index % 3 === 0 ? 'ACCESS_DENIED' : 'SYSCALL_OBSERVED',
    severity: index % 3 === 0 ? 'high' : 'info',
    description: `event ${index}`,
    metadata: { index, syscall: 'connect', args: [3, 'x'] },
    actor: 'supervisor',
    ...extra,
  }
}

function jsonlRecords(): AuditRecord[] {
  return readFileSync(auditPaths(dataDir).jsonlPath, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditRecord)
}

/** Opens a second connection, as an attacker or another process would. */
function rawDb(): Database.Database {
  return new Database(auditPaths(dataDir).dbPath)
}

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'blackhole-audit-'))
})

afterEach(async () => {
  for (const log of open.splice(0)) await log.close()
  rmSync(dataDir, { recursive: true, force: true })
})

describe('AuditLog append', () => {
  it('writes the genesis record first', async () => {
    const hmacKey = Buffer.alloc(32, 7)
    const log = openLog({ hmacKey, configHash: 'abc123' })
    await log.append(event(1))
    const [genesis] = log.query({ type: 'AUDIT_GENESIS' })
    expect(genesis?.seq).toBe(1)
    expect(genesis?.prevHash).toBe(GENESIS_PREV_HASH)
    expect(genesis?.metadata.configHash).toBe('abc123')
    expect(genesis?.metadata.hmacKeyFingerprint).toMatch(/^[0-9a-f]{64}$/)
    expect(genesis?.metadata.checkpointPublicKey).toBe(log.exportCheckpoints().publicKey)
    expect(genesis?.hmac).toMatch(/^[0-9a-f]{64}$/)
  })

  it('returns the stored record', async () => {
    const log = openLog()
    const record = await log.append(event(4))
    expect(record.seq).toBe(2)
    expect(record.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(record.service).toBe('web')
    expect(record.metadata).toEqual({ index: 4, syscall: 'connect', args: [3, 'x'] })
    expect(record.hmac).toBeNull()
    const [stored] = log.query({ limit: 1 })
    expect(stored).toEqual(record)
    expect(jsonlRecords().at(-1)).toEqual(record)
  })

  it('links each record to the previous hash', async () => {
    const log = openLog()
    const records = await log.appendMany([event(1), event(2), event(3)])
    const genesis = log.query({ type: 'AUDIT_GENESIS' })[0]!
    expect(records[0]!.prevHash).toBe(genesis.hash)
    expect(records[1]!.prevHash).toBe(records[0]!.hash)
    expect(records[2]!.prevHash).toBe(records[1]!.hash)
    for (const record of records) expect(sealRecord(record, null).hash).toBe(record.hash)
  })

  it('keeps call order under concurrency', async () => {
    const log = openLog()
    const promises = Array.from({ length: 2000 }, (_, index) => log.append(event(index)))
    const records = await Promise.all(promises)
    const seqs = records.map((record) => record.seq)
    expect(seqs[0]).toBe(2)
    expect(seqs.every((seq, index) => seq === index + 2)).toBe(true)
    expect(records.every((record, index) => record.description === `event ${index}`)).toBe(true)
    expect(jsonlRecords()).toHaveLength(2001)
  })

  it('groups appends into few fsyncs', async () => {
    const log = openLog({ groupCommitMs: 5 })
    await Promise.all(Array.from({ length: 3000 }, (_, index) => log.append(event(index))))
    expect(log.batchSizes.reduce((sum, size) => sum + size, 0)).toBe(3001)
    expect(log.syncCount).toBe(log.batchSizes.length)
    expect(log.syncCount).toBeLessThanOrEqual(10)
    expect(Math.max(...log.batchSizes)).toBeGreaterThan(100)
  })

  it('splits batches at maxBatch', async () => {
    const log = openLog({ maxBatch: 250 })
    await Promise.all(Array.from({ length: 1000 }, (_, index) => log.append(event(index))))
    expect(Math.max(...log.batchSizes)).toBe(250)
    expect(log.batchSizes.reduce((sum, size) => sum + size, 0)).toBe(1001)
  })

  it('rejects invalid input alone', async () => {
    const log = openLog()
    const good = log.append(event(1))
    const bad = log.append({ ...event(2), severity: 'urgent' as never })
    await expect(bad).rejects.toThrow(/severity "urgent" is invalid/)
    await expect(good).resolves.toMatchObject({ seq: 2 })
  })

  it('rejects the whole batch on a database failure', async () => {
    const logged: string[] = []
    const log = openLog({ logger: { error: (_details, message) => logged.push(message) } })
    await log.append(event(1))
    const sizeBefore = statSync(auditPaths(dataDir).jsonlPath).size
    // A row that takes the next seq makes the batch's INSERT fail.
    const db = rawDb()
    db.prepare(
      `INSERT INTO AuditEvent (seq, time, type, severity, description, metadata, prevHash, hash) VALUES (3, 't', 'X', 'info', 'd', '{}', 'p', 'h')`,
    ).run()
    db.close()
    const results = await Promise.allSettled([event(2), event(3), event(4)].map((input) => log.append(input)))
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected', 'rejected'])
    const reason = (results[0] as PromiseRejectedResult).reason as Error
    expect(reason.message).toMatch(/batch of 3 records \(seq 3 to 5\) failed/)
    expect((reason.cause as Error).message).toMatch(/UNIQUE constraint failed/)
    expect(statSync(auditPaths(dataDir).jsonlPath).size).toBe(sizeBefore)
    expect(logged).toEqual(['audit batch failed'])
  })

  it('continues the chain after reopening', async () => {
    const first = openLog()
    const before = await first.append(event(1))
    await first.close()
    const second = openLog()
    const after = await second.append(event(2))
    expect(after.seq).toBe(before.seq + 1)
    expect(after.prevHash).toBe(before.hash)
    expect(second.recovery).toBeNull()
    expect(second.verify().ok).toBe(true)
  })

  it('rejects a different HMAC key on reopen', async () => {
    const first = openLog({ hmacKey: Buffer.alloc(32, 1) })
    await first.close()
    expect(() => openLog({ hmacKey: Buffer.alloc(32, 2) })).toThrow(/differs from the one the genesis record names/)
  })

  it('rejects a lock held by a running process', () => {
    // The parent process runs and is not this one, like a second server.
    writeFileSync(`${auditPaths(dataDir).jsonlPath}.lock`, String(process.ppid))
    expect(() => openLog()).toThrow(`is locked by running process ${process.ppid}`)
  })

  it('takes over a stale lock', async () => {
    const first = openLog()
    await first.append(event(1))
    // A pid above the kernel's pid_max limit never runs.
    writeFileSync(`${auditPaths(dataDir).jsonlPath}.lock`, '99999999')
    await first.close()
    const second = openLog()
    expect((await second.append(event(2))).seq).toBe(3)
  })

  it('creates the private key with mode 0600', () => {
    openLog()
    const mode = statSync(join(auditPaths(dataDir).keyDir, 'audit-checkpoint.key')).mode & 0o777
    expect(mode).toBe(0o600)
  })
})

describe('AuditLog checkpoints', () => {
  it('signs every checkpointEvery records', async () => {
    const log = openLog({ checkpointEvery: 50, maxBatch: 10 })
    await Promise.all(Array.from({ length: 120 }, (_, index) => log.append(event(index))))
    const seqs = log.exportCheckpoints().checkpoints.map((checkpoint) => checkpoint.seq)
    expect(seqs).toEqual([50, 100])
  })

  it('signs within one large batch', async () => {
    const log = openLog({ checkpointEvery: 100 })
    await Promise.all(Array.from({ length: 249 }, (_, index) => log.append(event(index))))
    expect(log.batchSizes).toEqual([250])
    expect(log.exportCheckpoints().checkpoints.map((checkpoint) => checkpoint.seq)).toEqual([100, 200])
  })

  it('signs on the timer when records arrived', async () => {
    const log = openLog({ checkpointSeconds: 1 })
    await log.append(event(1))
    expect(log.exportCheckpoints().checkpoints).toHaveLength(0)
    await new Promise((resolve) => setTimeout(resolve, 1300))
    const checkpoints = log.exportCheckpoints().checkpoints
    expect(checkpoints.map((checkpoint) => checkpoint.seq)).toEqual([2])
    expect(checkpoints[0]?.hash).toBe(log.lastRecord()?.hash)
  })

  it('signs the tail on close', async () => {
    const log = openLog()
    await log.append(event(1))
    await log.close()
    const reopened = openLog()
    expect(reopened.exportCheckpoints().checkpoints.map((checkpoint) => checkpoint.seq)).toEqual([2])
  })
})

describe('AuditLog subscribe and query', () => {
  it('notifies subscribers in seq order', async () => {
    const log = openLog()
    const seen: number[] = []
    const unsubscribe = log.subscribe((record) => seen.push(record.seq))
    await Promise.all(Array.from({ length: 50 }, (_, index) => log.append(event(index))))
    unsubscribe()
    await log.append(event(99))
    expect(seen).toEqual(Array.from({ length: 51 }, (_, index) => index + 1))
  })

  it('keeps notifying after a listener throws', async () => {
    const logged: unknown[] = []
    const log = openLog({ logger: { error: (details) => logged.push(details.seq) } })
    const seen: number[] = []
    log.subscribe(() => {
      throw new Error('listener bug')
    })
    log.subscribe((record) => seen.push(record.seq))
    await log.append(event(1))
    expect(seen).toEqual([1, 2])
    expect(logged).toEqual([1, 2])
  })

  it('filters and pages newest first', async () => {
    const log = openLog()
    await log.appendMany(Array.from({ length: 30 }, (_, index) => event(index)))
    const web = log.query({ service: 'web', limit: 5 })
    expect(web.map((record) => record.seq)).toEqual([30, 28, 26, 24, 22])
    const next = log.query({ service: 'web', limit: 5, before: 22 })
    expect(next[0]?.seq).toBe(20)
    const high = log.query({ severity: 'high' })
    expect(high.every((record) => record.type === 'ACCESS_DENIED')).toBe(true)
    expect(high).toHaveLength(10)
    expect(log.query({ type: 'SYSCALL_OBSERVED' })).toHaveLength(20)
    expect(log.query({ since: '2999-01-01T00:00:00.000Z' })).toHaveLength(0)
    expect(log.query({ until: '2000-01-01T00:00:00.000Z' })).toHaveLength(0)
  })

  it('uses an index for service queries', async () => {
    const log = openLog()
    await log.append(event(1))
    const db = rawDb()
    const plan = db.prepare(`EXPLAIN QUERY PLAN SELECT * FROM AuditEvent WHERE service = ? ORDER BY seq DESC LIMIT 10`).all('web')
    db.close()
    expect(JSON.stringify(plan)).toMatch(/AuditEvent_service_seq_idx/)
  })
})

describe('AuditLog append-only tables', () => {
  it('rejects UPDATE and DELETE', async () => {
    const log = openLog()
    await log.appendMany([event(1), event(2)])
    await log.checkpoint()
    const db = rawDb()
    expect(() => db.prepare(`UPDATE AuditEvent SET description = 'x' WHERE seq = 2`).run()).toThrow(/audit records are append-only/)
    expect(() => db.prepare(`DELETE FROM AuditEvent WHERE seq = 2`).run()).toThrow(/audit records are append-only/)
    expect(() => db.prepare(`DELETE FROM AuditEvent WHERE seq = 1`).run()).toThrow(/audit records are append-only/)
    expect(() => db.prepare(`UPDATE AuditCheckpoint SET hash = 'x'`).run()).toThrow(/audit records are append-only/)
    expect(() => db.prepare(`DELETE FROM AuditCheckpoint`).run()).toThrow(/audit records are append-only/)
    db.close()
  })

  it('rejects a grant without its checkpoint', async () => {
    const log = openLog()
    await log.appendMany([event(1), event(2), event(3)])
    const db = rawDb()
    db.prepare(`INSERT INTO AuditPruneGrant (throughSeq, time, reason) VALUES (3, 't', 'attack')`).run()
    expect(() => db.prepare(`DELETE FROM AuditEvent WHERE seq = 2`).run()).toThrow(/audit records are append-only/)
    expect(() => db.prepare(`DELETE FROM AuditPruneGrant`).run()).toThrow(/audit records are append-only/)
    db.close()
  })
})

describe('AuditLog prune', () => {
  it('keeps the chain verifiable', async () => {
    const log = openLog()
    await log.appendMany(Array.from({ length: 499 }, (_, index) => event(index)))
    const result = await log.prune({ maxRecords: 100 })
    expect(result).toEqual({ pruned: 399, throughSeq: 400 })
    const records = jsonlRecords()
    const seqs = records.map((record) => record.seq)
    expect(seqs[0]).toBe(1)
    expect(seqs[1]).toBe(401)
    expect(seqs).toHaveLength(102)
    expect(records.at(-1)?.type).toBe('AUDIT_PRUNED')
    expect(records.at(-1)?.metadata.throughSeq).toBe(400)
    const report = log.verify()
    expect(report.problems).toEqual([])
    expect(report.ok).toBe(true)
    expect(report.records).toBe(102)
    expect(report.crash).toBeNull()
    expect(log.exportCheckpoints().checkpoints.map((checkpoint) => checkpoint.seq)).toContain(400)
  })

  it('rejects deletes past the grant', async () => {
    const log = openLog()
    await log.appendMany(Array.from({ length: 50 }, (_, index) => event(index)))
    await log.prune({ maxRecords: 10 })
    const db = rawDb()
    expect(() => db.prepare(`DELETE FROM AuditEvent WHERE seq = 45`).run()).toThrow(/audit records are append-only/)
    db.close()
  })

  it('appends and reopens after pruning', async () => {
    const first = openLog()
    await first.appendMany(Array.from({ length: 50 }, (_, index) => event(index)))
    await first.prune({ maxAgeDays: 0 })
    await first.append(event(60))
    await first.close()
    const second = openLog()
    await second.append(event(61))
    const report = second.verify()
    expect(report.problems).toEqual([])
    // The genesis, the newest record before the prune (51), AUDIT_PRUNED
    // (52), and the two appends after it.
    expect(report.records).toBe(5)
    expect(report.firstSeq).toBe(1)
    expect(report.lastSeq).toBe(54)
  })
})
