// Fork sampling and the record budget of the process monitor, with a
// sandbox that runs /bin/true 40 times.

import { mkdtempSync, existsSync, rmdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '@blackhole/policy'
import { afterAll, describe, expect, it } from 'vitest'
import { loadMonitorAddon } from '../../src/monitor/native.js'
import { ProcessMonitor } from '../../src/monitor/process-monitor.js'
import { ServiceResolver, supervisorServices } from '../../src/monitor/services.js'
import { detectLayout } from '../../src/sandbox/cgroups.js'
import { Supervisor } from '../../src/sandbox/supervisor.js'
import type { AuditInput } from '../../src/types.js'

const cgroupRoot = `blackhole-test-forks-${process.pid}`
const layout = detectLayout()
const loaded = loadMonitorAddon()

const CONFIG = `
security_profiles:
  plain:
    resource_limits:
      max_processes: 32
services:
  forker:
    profile: plain
    command: /bin/sh
    args: ['-c', 'sleep 1; i=0; while [ $i -lt 40 ]; do /bin/true; i=$((i+1)); done; sleep 30']
    autostart: false
`

async function waitFor<T>(read: () => T | undefined | null | false, what: () => string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = read()
    if (value !== undefined && value !== null && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

afterAll(() => {
  for (const mount of new Set([...Object.values(layout.v1), ...(layout.unified ? [layout.unified] : [])])) {
    const dir = join(mount, cgroupRoot)
    if (existsSync(dir)) rmdirSync(dir)
  }
})

describe('ProcessMonitor forks', () => {
  // Forks need the proc connector: polling cannot tell a fork from an exec.
  it.skipIf(loaded.addon === null)('samples forks and counts drops', async () => {
    if (process.getuid?.() !== 0) throw new Error('the kernel tests need root')
    const parsed = parseConfig(CONFIG, join(tmpdir(), 'forks-test.yaml'))
    if (!parsed.ok) throw new Error(`test config invalid: ${JSON.stringify(parsed.errors)}`)
    const dataDir = mkdtempSync(join(tmpdir(), 'forks-test-'))
    const supervisor = new Supervisor({
      config: parsed.config, configPath: join(tmpdir(), 'forks-test.yaml'), dataDir, cgroupRoot, graceMs: 300,
      record: () => Promise.resolve(),
    })
    const resolver = new ServiceResolver(supervisorServices(supervisor, { cgroupRoot, layout }), layout)
    const sampled: AuditInput[] = []
    const limited: AuditInput[] = []
    const sampler = new ProcessMonitor({
      record: (input) => { sampled.push(input) }, services: resolver, intervalMs: 100,
      forkSamplesPerSecond: 2, maxRecordsPerSecond: 1000,
    })
    const limiter = new ProcessMonitor({
      record: (input) => { limited.push(input) }, services: resolver, intervalMs: 100, maxRecordsPerSecond: 10,
    })
    sampler.start()
    limiter.start()
    try {
      const started = Date.now()
      await supervisor.start('forker', 'test')
      // A /bin/true that exits before its command line is read is recorded
      // with `[true]` (from /proc/PID/stat) or an empty command.
      const others = new Set(['/bin/sh', 'sleep'])
      const isLoopExec = (e: AuditInput) =>
        e.type === 'PROCESS_EXEC' && !others.has((e.metadata?.command as string[])[0] ?? '')
      const execs = await waitFor(
        () => sampled.filter(isLoopExec).length >= 40 && sampled.filter(isLoopExec),
        () => `40 execs of /bin/true among ${JSON.stringify(sampled.filter((e) => e.type === 'PROCESS_EXEC').map((e) => e.metadata?.command))}`,
      )
      expect(execs).toHaveLength(40)
      const named = execs.filter((e) => (e.metadata?.command as string[])[0] === '/bin/true')
      expect(named.length).toBeGreaterThan(0)
      await waitFor(() => (sampler.stats().forks.forker ?? 0) >= 40, () => '40 forks counted')
      const seconds = Math.ceil((Date.now() - started) / 1000) + 1
      const forkRecords = sampled.filter((e) => e.type === 'PROCESS_FORK')
      expect(forkRecords.length).toBeGreaterThanOrEqual(1)
      expect(forkRecords.length).toBeLessThanOrEqual(2 * seconds)
      expect(sampler.stats().dropped).toBe(0)

      await waitFor(() => limiter.stats().dropped > 0, () => 'the record budget to drop')
      const stats = limiter.stats()
      expect(stats.droppedByService.forker).toBe(stats.dropped)
      expect(limited.length).toBe(stats.recorded)
      expect(limited.length).toBeLessThan(120)
    } finally {
      sampler.stop()
      limiter.stop()
      await supervisor.shutdown('test')
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})
