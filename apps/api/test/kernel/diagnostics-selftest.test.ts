// runSelftest against a strict profile and the example identity profile:
// every probe must be held (or skipped where the profile sets no limit).

import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { loadConfigFile, parseConfig, type Config } from '@blackhole/policy'
import { formatSelftest, runSelftest, selftestStatus, type SelftestReport } from '../../src/diagnostics/selftest.js'

const EXAMPLES = fileURLToPath(new URL('../../../../examples/blackhole.yaml', import.meta.url))

const STRICT_YAML = `security_profiles:
  strict:
    enforce_mode: enforce
    filesystem:
      read_only_root: true
    network:
      mode: none
    resource_limits:
      max_memory: 256MiB
      max_file_descriptors: 256
      max_processes: 32
`

function strictConfig(): Config {
  const parsed = parseConfig(STRICT_YAML, 'strict.yaml')
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors))
  return parsed.config
}

async function exampleConfig(): Promise<Config> {
  const parsed = await loadConfigFile(EXAMPLES)
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors))
  return parsed.config
}

function expectAllHeld(report: SelftestReport): void {
  const output = formatSelftest(report)
  expect(report.interpreter).toBe('python3')
  expect(report.results.length).toBeGreaterThanOrEqual(20)
  for (const result of report.results) {
    expect(result.status, `${result.category} ${result.name}: ${result.detail}\n${output}`).toBe('held')
  }
  expect(selftestStatus(report)).toBe(0)
  expect(output).not.toMatch(/^NOT HELD/m)
}

function leftovers(): string[] {
  return [
    ...readdirSync('/tmp').filter((name) => name.startsWith('blackhole-selftest-')),
    ...readdirSync('/run').filter((name) => name.startsWith('blackhole-selftest-')),
    ...readdirSync('/var/lib').filter((name) => name.startsWith('blackhole-selftest-')),
  ]
}

describe('selftest', () => {
  it('holds every probe under a strict profile', async () => {
    const before = leftovers()
    const report = await runSelftest({ config: strictConfig(), profileName: 'strict' })
    expectAllHeld(report)
    const names = report.results.map((result) => result.name)
    expect(names).toContain('fork past max_processes')
    expect(names).toContain('connect to a host loopback listener')
    const raw = report.results.find((result) => result.name === 'open raw sockets')
    expect(raw?.detail).toContain('EPERM')
    const shadow = report.results.find((result) => result.name === 'read /etc/shadow')
    expect(shadow?.detail).toContain('EACCES')
    expect(leftovers()).toEqual(before)
  }, 180_000)

  it('holds every probe under the identity example', async () => {
    const report = await runSelftest({ config: await exampleConfig(), profileName: 'identity', configPath: EXAMPLES })
    expectAllHeld(report)
    // Landlock stops the connection before the sandbox's own loopback could refuse it.
    const connect = report.results.find((result) => result.name === 'connect to a host loopback listener')
    expect(connect?.detail).toContain('EACCES')
    const memory = report.results.find((result) => result.name === 'allocate past max_memory')
    expect(memory?.detail).toContain('ENOMEM')
  }, 180_000)

  it('falls back to sh without python3', async () => {
    const report = await runSelftest({ config: strictConfig(), profileName: 'strict', python: '/nonexistent/python3' })
    const output = formatSelftest(report)
    expect(report.interpreter).toBe('sh')
    for (const result of report.results) {
      expect(['held', 'skipped'], `${result.name}: ${result.detail}\n${output}`).toContain(result.status)
    }
    const skipped = report.results.filter((result) => result.status === 'skipped').map((result) => result.name)
    expect(skipped).toContain('setuid(0)')
    expect(skipped).not.toContain('read /etc/shadow')
    expect(report.results.filter((result) => result.status === 'held').length).toBeGreaterThanOrEqual(12)
    expect(selftestStatus(report)).toBe(0)
  }, 180_000)

  it('reports an escape as not held', async () => {
    const parsed = parseConfig(`${STRICT_YAML}  leaky:
    enforce_mode: enforce
    filesystem:
      read_only_root: false
    network:
      mode: host
`, 'leaky.yaml')
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors))
    const report = await runSelftest({ config: parsed.config, profileName: 'leaky' })
    const status = (name: string) => report.results.find((result) => result.name === name)?.status
    expect(status('no interfaces besides lo')).toBe('not held')
    expect(status('connect to a host loopback listener')).toBe('not held')
    expect(status('LD_PRELOAD does not reach the sandbox')).toBe('held')
    const fork = report.results.find((result) => result.name === 'fork past max_processes')
    expect(fork?.detail).toContain('EAGAIN')
    expect(status('write to /etc')).toBe('held')
    expect(selftestStatus(report)).toBe(1)
    expect(formatSelftest(report)).toMatch(/^NOT HELD {2}network {6}no interfaces besides lo/m)
  }, 180_000)
})
