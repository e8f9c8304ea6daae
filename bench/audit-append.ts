// Measures audit append throughput of the real AuditLog pipeline: hash
// chain, one JSONL write and fdatasync per group commit, one SQLite
// transaction per batch. The same run inserts the same rows with Prisma
// createMany and with a plain better-sqlite3 loop, on the same disk.
//
//   pnpm exec tsx bench/audit-append.ts [events] [concurrency]
//
// Defaults: 200,000 events from 1,000 concurrent producers. Each producer
// awaits its append before the next, as the supervisor's event sources do.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { AuditLog, auditPaths } from '../apps/api/src/audit/index.js'
import { openAuditDatabase } from '../apps/api/src/audit/store.js'
import type { AuditInput, AuditRecord } from '../apps/api/src/types.js'

// better-sqlite3 and the Prisma adapter are dependencies of apps/api only.
const requireFromApi = createRequire(new URL('../apps/api/package.json', import.meta.url))

const events = Number(process.argv[2] ?? 200_000)
const concurrency = Number(process.argv[3] ?? 1_000)
if (!Number.isInteger(events) || events < 1 || !Number.isInteger(concurrency) || concurrency < 1) {
  throw new Error(`usage: tsx bench/audit-append.ts [events >= 1] [concurrency >= 1]; got ${process.argv.slice(2).join(' ')}`)
}

const root = mkdtempSync(join(tmpdir(), 'blackhole-bench-audit-'))

function input(index: number): AuditInput {
  return {
    service: `svc-${index % 16}`,
    pid: 10_000 + (index % 500),
    type: index % 10 === 0 ? 'ACCESS_DENIED' : 'SYSCALL_OBSERVED',
    severity: index % 10 === 0 ? 'high' : 'info',
    description: `connect(3, 10.0.0.${index % 250}:443) by worker ${index % 64}`,
    metadata: { syscall: 'connect', nr: 42, args: [3, `10.0.0.${index % 250}`, 443], index },
    actor: 'supervisor',
  }
}

async function runAuditLog(): Promise<{ seconds: number; records: AuditRecord[]; batches: number; syncs: number }> {
  const dataDir = join(root, 'audit')
  const log = AuditLog.open({ ...auditPaths(dataDir), hmacKey: Buffer.alloc(32, 1) })
  const records: AuditRecord[] = new Array(events)
  let next = 0
  const started = process.hrtime.bigint()
  const producers = Array.from({ length: Math.min(concurrency, events) }, async () => {
    for (;;) {
      const index = next++
      if (index >= events) return
      records[index] = await log.append(input(index))
    }
  })
  await Promise.all(producers)
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const batches = log.batchSizes.length
  const syncs = log.syncCount
  await log.close()
  return { seconds, records, batches, syncs }
}

function checkNothingLost(): { dbRows: number; jsonlLines: number; verifyOk: boolean; verifySeconds: number } {
  const paths = auditPaths(join(root, 'audit'))
  const db = openAuditDatabase(paths.dbPath)
  const dbRows = (db.prepare('SELECT count(*) AS n FROM AuditEvent').get() as { n: number }).n
  db.close()
  const jsonlLines = readFileSync(paths.jsonlPath, 'utf8').split('\n').filter(Boolean).length
  const started = process.hrtime.bigint()
  const log = AuditLog.open({ ...paths, hmacKey: Buffer.alloc(32, 1) })
  const report = log.verify()
  const verifySeconds = Number(process.hrtime.bigint() - started) / 1e9
  void log.close()
  return { dbRows, jsonlLines, verifyOk: report.ok && report.records === dbRows, verifySeconds }
}

function rowOf(record: AuditRecord) {
  return { ...record, metadata: JSON.stringify(record.metadata) }
}

async function runPrisma(records: AuditRecord[]): Promise<number> {
  const path = join(root, 'prisma.db')
  openAuditDatabase(path).close()
  const adapterModule = (await import(pathToFileURL(requireFromApi.resolve('@prisma/adapter-better-sqlite3')).href)) as {
    PrismaBetterSqlite3: new (options: { url: string }) => unknown
  }
  const clientModule = (await import('../apps/api/src/generated/prisma/client.js')) as unknown as {
    PrismaClient: new (options: { adapter: unknown }) => {
      auditEvent: { createMany(args: { data: unknown[] }): Promise<{ count: number }> }
      $disconnect(): Promise<void>
    }
  }
  const prisma = new clientModule.PrismaClient({ adapter: new adapterModule.PrismaBetterSqlite3({ url: `file:${path}` }) })
  const rows = records.map(rowOf)
  const started = process.hrtime.bigint()
  // Chunks of 5,000 match the AuditLog's maxBatch.
  for (let start = 0; start < rows.length; start += 5_000) {
    await prisma.auditEvent.createMany({ data: rows.slice(start, start + 5_000) })
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  await prisma.$disconnect()
  return seconds
}

function runPlainSqlite(records: AuditRecord[]): number {
  const db = openAuditDatabase(join(root, 'plain.db'))
  const insert = db.prepare(
    `INSERT INTO AuditEvent (seq, time, service, pid, type, severity, description, metadata, actor, prevHash, hash, hmac)
     VALUES (@seq, @time, @service, @pid, @type, @severity, @description, @metadata, @actor, @prevHash, @hash, @hmac)`,
  )
  const rows = records.map(rowOf)
  const started = process.hrtime.bigint()
  for (let start = 0; start < rows.length; start += 5_000) {
    db.transaction(() => {
      for (const row of rows.slice(start, start + 5_000)) insert.run(row)
    })()
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  db.close()
  return seconds
}

function rate(count: number, seconds: number): string {
  return `${Math.round(count / seconds).toLocaleString('en-US')} rows/s`
}

try {
  const audit = await runAuditLog()
  const lost = checkNothingLost()
  const prismaSeconds = await runPrisma(audit.records)
  const plainSeconds = runPlainSqlite(audit.records)
  const auditRate = events / audit.seconds
  console.log(`events: ${events}, concurrent producers: ${concurrency}`)
  console.log(`AuditLog (hash chain + HMAC, JSONL fdatasync per batch, SQLite WAL): ${audit.seconds.toFixed(2)} s, ${rate(events, audit.seconds)}, ${audit.batches} batches, ${audit.syncs} fdatasync calls`)
  console.log(`Prisma createMany (5,000 per call, no hashing, no fsync):         ${prismaSeconds.toFixed(2)} s, ${rate(events, prismaSeconds)}`)
  console.log(`better-sqlite3 prepared insert (5,000 per transaction):            ${plainSeconds.toFixed(2)} s, ${rate(events, plainSeconds)}`)
  console.log(`ratio AuditLog / Prisma createMany: ${(auditRate / (events / prismaSeconds)).toFixed(2)}`)
  console.log(`ratio AuditLog / better-sqlite3 loop: ${(auditRate / (events / plainSeconds)).toFixed(2)}`)
  console.log(`lost: database has ${lost.dbRows} rows, JSONL ${lost.jsonlLines} lines (expected ${events + 1} with the genesis), verify ${lost.verifyOk ? 'ok' : 'FAILED'} in ${lost.verifySeconds.toFixed(2)} s`)
  const nothingLost = lost.dbRows === events + 1 && lost.jsonlLines === events + 1 && lost.verifyOk
  console.log(nothingLost ? 'zero lost' : 'RECORDS LOST')
  process.exitCode = nothingLost ? 0 : 1
} finally {
  rmSync(root, { recursive: true, force: true })
}
