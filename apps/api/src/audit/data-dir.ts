import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { AuditLogOptions } from './audit-log.js'
import { readJsonl } from './jsonl.js'
import { loadCheckpointPublicKey, loadHmacKey } from './keys.js'
import { releaseLock, takeLock } from './lock.js'
import { recoverStores } from './recovery.js'
import { AuditStore, openAuditDatabase } from './store.js'
import { verifyStores, type CheckpointExport, type VerifyReport } from './verify.js'

/** Paths of the audit stores in a Blackhole data folder. */
export function auditPaths(dataDir: string): Pick<AuditLogOptions, 'dbPath' | 'jsonlPath' | 'keyDir'> {
  return {
    dbPath: join(dataDir, 'blackhole.db'),
    jsonlPath: join(dataDir, 'audit.jsonl'),
    keyDir: join(dataDir, 'keys'),
  }
}

export interface VerifyDataDirOptions {
  externalCheckpoints?: CheckpointExport | string
  /** Repair what a crash left when no tampering was found (true by default). */
  repair?: boolean
  migrationsDir?: string
}

/**
 * Verifies the audit log of a data folder, for `blackhole audit verify`.
 * It checks the stores as they are first. When it finds only crash damage
 * and no process holds the writer lock, it repairs the stores as open()
 * would and verifies again. It never repairs tampering. Unlike open(), it
 * appends no AUDIT_RECOVERED record, so the report is the repair's only
 * trace. Use verifyExitCode for the process exit code.
 */
export function verifyDataDir(dataDir: string, options: VerifyDataDirOptions = {}): VerifyReport {
  const paths = auditPaths(dataDir)
  if (!existsSync(paths.dbPath)) {
    throw new Error(`no audit database at ${paths.dbPath}; pass the data folder with --data DIR`)
  }
  const hmacKey = loadHmacKey(paths.keyDir)
  const db = openAuditDatabase(paths.dbPath, options.migrationsDir)
  try {
    const store = new AuditStore(db)
    const check = () =>
      verifyStores({
        store,
        jsonl: readJsonl(paths.jsonlPath),
        trustedKey: loadCheckpointPublicKey(paths.keyDir),
        hmacKey,
        externalCheckpoints: options.externalCheckpoints,
      })
    const report = check()
    if (!report.ok || !report.crash || options.repair === false) return report
    const lockPath = `${paths.jsonlPath}.lock`
    try {
      takeLock(lockPath)
    } catch (error) {
      report.notes.push(`not repaired: ${(error as Error).message}`)
      return report
    }
    try {
      const repaired = recoverStores(store, paths.jsonlPath, hmacKey)
      const after = check()
      after.crash = repaired ?? report.crash
      return after
    } finally {
      releaseLock(lockPath)
    }
  } finally {
    db.close()
  }
}
