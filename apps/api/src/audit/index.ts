// The tamper-evident audit log: see audit-log.ts for the class, writer.ts
// for the commit order and recovery.ts for what a crash leaves behind.
export { AuditLog, type AuditLogger, type AuditLogOptions, type VerifyOptions } from './audit-log.js'
export { canonicalJson, GENESIS_PREV_HASH, hashedBytes, sealRecord } from './canonical.js'
export { auditPaths, verifyDataDir, type VerifyDataDirOptions } from './data-dir.js'
export { loadHmacKey } from './keys.js'
export type { PruneOptions, PruneResult } from './retention.js'
export type { QueryOptions } from './store.js'
export {
  formatVerifyReport,
  verifyExitCode,
  type CheckpointExport,
  type CheckpointSummary,
  type CrashFinding,
  type ProblemKind,
  type VerifyProblem,
  type VerifyReport,
} from './verify.js'
