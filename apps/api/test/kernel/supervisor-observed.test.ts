// A service that runs programs in a tight loop makes one execve notification
// per program. The supervisor records at most MAX_OBSERVED_RECORDS_PER_SECOND
// of them per second and summarises the rest, so one service cannot flood the
// audit log.

import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '@blackhole/policy'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MAX_OBSERVED_RECORDS_PER_SECOND, Supervisor } from '../../src/sandbox/supervisor.js'
import type { AuditInput } from '../../src/types.js'

const CONFIG = `
security_profiles:
  plain:
    resource_limits:
      max_processes: 16
services:
  looper:
    profile: plain
    command: /bin/sh
    args: ['-c', 'while :; do /bin/true; done']
    autostart: false
`

let dataDir = ''
let supervisor: Supervisor
const events: AuditInput[] = []

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'blackhole-observed-'))
  const parsed = parseConfig(CONFIG, join(dataDir, 'config.yaml'))
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors))
  events.length = 0
  supervisor = new Supervisor({
    config: parsed.config,
    configPath: join(dataDir, 'config.yaml'),
    dataDir,
    cgroupRoot: `blackhole-observed-test-${process.pid}`,
    parentLockDir: join(dataDir, 'locks'),
    graceMs: 200,
    record: async (input) => {
      events.push(input)
    },
  })
})

afterEach(async () => {
  await supervisor.shutdown('test')
  rmSync(dataDir, { recursive: true, force: true })
})

describe('observed syscall records', () => {
  it('are capped per second and summarised', async () => {
    await supervisor.start('looper', 'test')
    const started = Date.now()
    await new Promise((resolve) => setTimeout(resolve, 2500))
    await supervisor.stop('looper', 'test')
    const seconds = Math.ceil((Date.now() - started) / 1000) + 1
    const observed = events.filter((event) => event.type === 'SYSCALL_OBSERVED')
    const summaries = events.filter((event) => event.type === 'SYSCALL_OBSERVED_SUMMARY')
    expect(observed.length).toBeGreaterThan(0)
    expect(observed.length).toBeLessThanOrEqual(MAX_OBSERVED_RECORDS_PER_SECOND * seconds)
    expect(summaries.length).toBeGreaterThan(0)
    expect(Number(summaries[0]?.metadata?.suppressed)).toBeGreaterThan(0)
  })
})
