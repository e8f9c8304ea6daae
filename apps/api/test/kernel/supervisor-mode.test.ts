// Switching a running service's seccomp mode through the Supervisor: the
// service restarts under the new mode, which the kernel shows in
// /proc/PID/status, and the switch stays in force across restarts until set
// back to the profile's own mode.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '@blackhole/policy'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Supervisor } from '../../src/sandbox/supervisor.js'
import type { AuditInput } from '../../src/types.js'

const CONFIG = `
security_profiles:
  plain:
    network:
      allow_localhost: true
services:
  sleeper:
    profile: plain
    command: /bin/sleep
    args: ['30']
    autostart: false
`

let dataDir = ''
let supervisor: Supervisor
const events: AuditInput[] = []

function seccompField(pid: number): string {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((entry) => entry.startsWith('Seccomp:'))
  return line?.split(/\s+/)[1] ?? ''
}

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'blackhole-mode-'))
  const parsed = parseConfig(CONFIG, join(dataDir, 'config.yaml'))
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors))
  events.length = 0
  supervisor = new Supervisor({
    config: parsed.config,
    configPath: join(dataDir, 'config.yaml'),
    dataDir,
    cgroupRoot: `blackhole-mode-test-${process.pid}`,
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

describe('enforce mode switch', () => {
  it('restarts a running service in the new mode', async () => {
    const first = await supervisor.start('sleeper', 'test')
    expect(first.enforceMode).toBe('enforce')
    expect(seccompField(first.pid!)).toBe('2')

    const permissive = await supervisor.setEnforceMode('sleeper', 'permissive', 'token:admin')
    expect(permissive.state).toBe('running')
    expect(permissive.enforceMode).toBe('permissive')
    expect(permissive.pid).not.toBe(first.pid)
    expect(seccompField(permissive.pid!)).toBe('2')

    const disabled = await supervisor.setEnforceMode('sleeper', 'disabled', 'token:admin')
    expect(disabled.enforceMode).toBe('disabled')
    expect(seccompField(disabled.pid!)).toBe('0')

    const changes = events.filter((event) => event.type === 'ENFORCE_MODE_CHANGED')
    expect(changes.map((event) => event.severity)).toEqual(['high', 'high'])
    expect(changes[1]?.metadata).toMatchObject({ previous: 'permissive', mode: 'disabled', restart: true })
  })

  it('keeps the mode across a stop and start', async () => {
    await supervisor.setEnforceMode('sleeper', 'permissive', 'token:admin')
    const started = await supervisor.start('sleeper', 'test')
    expect(started.enforceMode).toBe('permissive')
    await supervisor.stop('sleeper', 'test')
    await supervisor.setEnforceMode('sleeper', 'enforce', 'token:admin')
    const back = await supervisor.start('sleeper', 'test')
    expect(back.enforceMode).toBe('enforce')
    expect(events.filter((event) => event.type === 'ENFORCE_MODE_CHANGED').map((event) => event.severity)).toEqual(['high', 'info'])
  })
})
