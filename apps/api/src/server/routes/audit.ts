// Audit log routes for the console: chain status, verify on request and
// the checkpoint export to keep off the host.

import type { FastifyPluginAsync } from 'fastify'
import type { CheckpointExport, VerifyReport } from '../../audit/verify.js'
import type { AuditRecord } from '../../types.js'
import { actorOf } from '../auth.js'
import { ApiError } from '../errors.js'
import type { AuditLogPort } from '../ports.js'
import { requireRole } from './access.js'

/** The parts of AuditLog beyond AuditLogPort that these routes call. */
export interface VerifiableAuditLog extends AuditLogPort {
  verify(): VerifyReport
  exportCheckpoints(): CheckpointExport
  lastRecord(): AuditRecord | null
}

export interface AuditRoutesOptions {
  audit: AuditLogPort
}

interface LastVerify {
  time: string
  actor: string
  ok: boolean
  records: number
  firstBad: VerifyReport['firstBad']
  problemCount: number
}

function isVerifiable(audit: AuditLogPort): audit is VerifiableAuditLog {
  const candidate = audit as Partial<VerifiableAuditLog>
  return typeof candidate.verify === 'function' && typeof candidate.exportCheckpoints === 'function' && typeof candidate.lastRecord === 'function'
}

export const auditRoutes: FastifyPluginAsync<AuditRoutesOptions> = async (app, options) => {
  let lastVerify: LastVerify | null = null

  function audit(): VerifiableAuditLog {
    if (isVerifiable(options.audit)) return options.audit
    throw new ApiError('NOT_SUPPORTED', 501, 'this server runs without a verifiable audit log; start it with `blackhole serve`')
  }

  app.get('/api/v1/audit/status', async () => {
    const log = audit()
    const last = log.lastRecord()
    const checkpoints = log.exportCheckpoints().checkpoints
    const lastCheckpoint = checkpoints.at(-1) ?? null
    return {
      lastSeq: last?.seq ?? null,
      lastTime: last?.time ?? null,
      lastHash: last?.hash ?? null,
      // AuditLog has no cheap count, so the count is the one the last verify made.
      records: lastVerify?.records ?? null,
      checkpoints: checkpoints.length,
      lastCheckpoint: lastCheckpoint === null ? null : { seq: lastCheckpoint.seq, time: lastCheckpoint.time, hash: lastCheckpoint.hash },
      lastVerify,
    }
  })

  app.post('/api/v1/audit/verify', { config: { role: 'operator' } }, async (request) => {
    // The auth hook enforces config.role; this check keeps the rule if the route moves.
    requireRole(request, 'operator', 'verify the audit log')
    const log = audit()
    const actor = actorOf(request)
    const started = Date.now()
    const report = log.verify()
    const durationMs = Date.now() - started
    lastVerify = {
      time: new Date().toISOString(),
      actor,
      ok: report.ok,
      records: report.records,
      firstBad: report.firstBad,
      problemCount: report.problemCount,
    }
    await log.append({
      type: 'AUDIT_VERIFIED',
      severity: report.ok ? 'info' : 'critical',
      description: report.ok
        ? `audit chain verified by ${actor}: ${report.records} records ok`
        : `audit chain verification by ${actor} failed at seq ${report.firstBad?.seq}: ${report.firstBad?.kind}`,
      metadata: { ok: report.ok, records: report.records, lastSeq: report.lastSeq, problemCount: report.problemCount, firstBad: report.firstBad, durationMs },
      actor,
    })
    return { ...report, durationMs, verifiedBy: actor }
  })

  app.get('/api/v1/audit/checkpoints', async (_request, reply) => {
    void reply.header('content-disposition', 'attachment; filename="audit-checkpoints.json"')
    return audit().exportCheckpoints()
  })
}
