import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AuditLog, auditPaths } from '../../src/audit/index.js'
import { scheduleRetention } from '../../src/audit/retention-schedule.js'

let dir = ''
const logs: string[] = []
const logger = { info: (message: string) => logs.push(message), error: (message: string) => logs.push(`error: ${message}`) }

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'blackhole-retention-'))
  logs.length = 0
})

afterEach(() => {
  rmSync(dir, { recursive: true, force: true })
})

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the retention pass')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('retention schedule', () => {
  it('prunes to the size cap and keeps the chain verifiable', async () => {
    const audit = AuditLog.open({ ...auditPaths(dir) })
    try {
      await audit.appendMany(
        Array.from({ length: 300 }, (_, i) => ({ type: 'TEST_EVENT', severity: 'info' as const, description: `event ${i}` })),
      )
      const stop = scheduleRetention(audit, { maxRecords: 100 }, logger, { firstDelayMs: 0, intervalMs: 60_000 })
      await until(() => logs.some((line) => line.startsWith('audit retention pruned')))
      await stop()
      const kept = audit.query({ limit: 1000 })
      expect(kept.length).toBeLessThanOrEqual(102)
      expect(kept.some((record) => record.type === 'AUDIT_PRUNED')).toBe(true)
      expect(audit.verify().ok).toBe(true)
    } finally {
      await audit.close()
    }
  })

  it('logs a failed pass and keeps going', async () => {
    let calls = 0
    const failing = {
      prune: async () => {
        calls += 1
        throw new Error('disk full')
      },
    }
    const stop = scheduleRetention(failing, { maxAgeDays: 1 }, logger, { firstDelayMs: 0, intervalMs: 5 })
    await until(() => calls >= 2)
    await stop()
    expect(logs[0]).toBe('error: audit retention failed: disk full')
  })
})
