// Fills a data folder's audit log with generated records through the real
// AuditLog (hash chain, HMAC, JSONL with fdatasync per group commit), shared
// by the events benchmarks.

import { performance } from 'node:perf_hooks'
import { AuditLog, auditPaths, loadHmacKey } from '../../apps/api/src/audit/index.js'
import type { AuditInput } from '../../apps/api/src/types.js'

const PRODUCERS = 1000

// 16 services; one record in 10 is a high-severity ACCESS_DENIED and one in
// 10,000 an OOM_KILL, the rare type a filter has to dig for.
function input(index: number): AuditInput {
  let type = 'SYSCALL_OBSERVED'
  let severity: AuditInput['severity'] = 'info'
  if (index % 10_000 === 0) {
    type = 'OOM_KILL'
    severity = 'critical'
  } else if (index % 10 === 0) {
    type = 'ACCESS_DENIED'
    severity = 'high'
  }
  return {
    service: `svc-${index % 16}`,
    pid: 10_000 + (index % 500),
    type,
    severity,
    description: `connect(3, 10.0.0.${index % 250}:443) by worker ${index % 64}`,
    metadata: { syscall: 'connect', nr: 42, args: [3, `10.0.0.${index % 250}`, 443], index },
    actor: 'supervisor',
  }
}

/** Appends `records` generated records from many concurrent producers; resolves with the seconds taken. */
export async function fill(dataDir: string, records: number): Promise<number> {
  const paths = auditPaths(dataDir)
  const log = AuditLog.open({ ...paths, hmacKey: loadHmacKey(paths.keyDir) })
  const started = performance.now()
  let next = 0
  const producer = async () => {
    while (next < records) {
      const index = next++
      await log.append(input(index))
      if (index > 0 && index % 100_000 === 0) process.stderr.write(`  appended ${index}\n`)
    }
  }
  await Promise.all(Array.from({ length: PRODUCERS }, producer))
  await log.close()
  return (performance.now() - started) / 1000
}

