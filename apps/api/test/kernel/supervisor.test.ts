// The Supervisor with real sandboxes, cgroups and processes. Each test
// starts one service of a config written here and leaves no process,
// cgroup or folder behind.

import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig, type Config } from '@blackhole/policy'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { detectLayout } from '../../src/sandbox/cgroups.js'
import { profileSha256, Supervisor } from '../../src/sandbox/supervisor.js'
import type { AuditInput, ResourceSample } from '../../src/types.js'

const cgroupRoot = `blackhole-test-${process.pid}`
const layout = detectLayout()
// A mount point on the read-only host root, which the supervisor must create.
const hostMountBase = `/var/lib/blackhole-test-${process.pid}`
// A file on the read-only host root (not under /tmp, which every sandbox gets as its own tmpfs).
const badConfigFile = `/var/lib/blackhole-test-file-${process.pid}`

function configText(): string {
  return `
security_profiles:
  small:
    filesystem:
      writable_paths:
        - ${hostMountBase}/small
        - /run/small
    network:
      allow_localhost: true
    resource_limits:
      max_memory: 64MiB
      max_processes: 16
  caps:
    capabilities:
      - CAP_NET_BIND_SERVICE
      - CAP_SYS_RESOURCE
    filesystem:
      writable_paths:
        - /var/data/blackhole-test-${process.pid}
  under-file:
    filesystem:
      writable_paths:
        - ${badConfigFile}/sub
services:
  sleeper:
    profile: small
    command: /bin/sh
    args: ['-c', 'echo started; sleep 30']
    autostart: false
  missing:
    profile: small
    command: blackhole-no-such-command
    autostart: false
  missing-retry:
    profile: small
    command: blackhole-no-such-command
    restart: always
    autostart: false
  under-file:
    profile: under-file
    command: /bin/true
    autostart: false
  hog:
    profile: small
    command: /bin/sh
    args: ['-c', 'sleep 0.2; s=x; while :; do s="$s$s"; done']
    autostart: false
  forker:
    profile: small
    command: /bin/sh
    args: ['-c', 'i=0; while [ $i -lt 500 ]; do sleep 5 & i=$((i+1)); done; wait']
    autostart: false
  greedy:
    profile: small
    command: /bin/sh
    args: ['-c', 'for i in 1 2 3 4 5 6; do (s=x; j=0; while [ $j -lt 24 ]; do s="$s$s"; j=$((j+1)); done; sleep 2) & done; wait']
    autostart: false
  stubborn:
    profile: small
    command: /bin/sh
    args: ['-c', 'trap "" TERM; echo started; sleep 30']
    autostart: false
  denied:
    profile: small
    command: /bin/sh
    args: ['-c', 'unshare -U true; echo "unshare status $?"; sleep 30']
    autostart: false
  keeper:
    profile: caps
    command: /bin/sh
    args: ['-c', 'echo kept >> /var/data/blackhole-test-${process.pid}/file; sleep 30']
    persistent_paths:
      - /var/data/blackhole-test-${process.pid}
    autostart: false
  flaky:
    profile: small
    command: /bin/sh
    args: ['-c', 'exit 4']
    restart: on-failure
    autostart: false
  quick:
    profile: small
    command: /bin/sh
    args: ['-c', 'exit 3']
    autostart: false
`
}

let config: Config
let dataDir: string
let events: AuditInput[]
let supervisor: Supervisor

function eventsOf(type: string, service?: string): AuditInput[] {
  return events.filter((e) => e.type === type && (service === undefined || e.service === service))
}

async function waitFor<T>(read: () => T | undefined | null | false, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = read()
    if (value !== undefined && value !== null && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function leafDirs(service: string): string[] {
  const mounts = new Set(Object.values(layout.v1))
  if (layout.unified !== null) mounts.add(layout.unified)
  return [...mounts].map((mount) => join(mount, cgroupRoot, service))
}

function linkFlags(pid: number, link: string): string {
  return execFileSync('nsenter', ['-t', String(pid), '-n', 'ip', '-o', 'link', 'show', link], { encoding: 'utf8' })
}

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('the kernel tests need root')
  writeFileSync(badConfigFile, 'a file, so no folder can be created below it\n')
  const parsed = parseConfig(configText(), join(tmpdir(), 'supervisor-test.yaml'))
  if (!parsed.ok) throw new Error(`test config invalid: ${JSON.stringify(parsed.errors)}`)
  config = parsed.config
})

afterAll(() => {
  rmSync(badConfigFile, { force: true })
  rmSync(`/var/data/blackhole-test-${process.pid}`, { recursive: true, force: true })
  rmSync(hostMountBase, { recursive: true, force: true })
  for (const mount of new Set([...Object.values(layout.v1), ...(layout.unified ? [layout.unified] : [])])) {
    const dir = join(mount, cgroupRoot)
    if (existsSync(dir)) rmdirSync(dir)
  }
})

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'supervisor-test-'))
  events = []
  supervisor = new Supervisor({
    config,
    configPath: join(tmpdir(), 'supervisor-test.yaml'),
    dataDir,
    cgroupRoot,
    graceMs: 300,
    metricsIntervalMs: 50,
    record: async (input) => {
      events.push(input)
    },
  })
})

afterEach(async () => {
  await supervisor.shutdown('test')
  for (const service of Object.keys(config.services)) {
    for (const dir of leafDirs(service)) expect(existsSync(dir), `${dir} left behind`).toBe(false)
  }
  rmSync(dataDir, { recursive: true, force: true })
})

describe('Supervisor', () => {
  it('starts a service and lists it', async () => {
    const status = await supervisor.start('sleeper', 'token:test')
    expect(status.state).toBe('running')
    expect(status.pid).toBeGreaterThan(1)
    expect(status.uid).toBeGreaterThan(0)
    const listed = supervisor.list().find((s) => s.name === 'sleeper')!
    expect(listed.state).toBe('running')
    expect(listed.pid).toBe(status.pid)
    expect(listed.uid).toBe(status.uid)
    expect(listed.command).toEqual(['/bin/sh', '-c', 'echo started; sleep 30'])
    const started = eventsOf('SERVICE_STARTED', 'sleeper')
    expect(started).toHaveLength(1)
    expect(started[0]!.actor).toBe('token:test')
    expect(started[0]!.metadata?.uid).toBe(status.uid)
    expect(started[0]!.metadata?.profile).toBe('small')
    expect(started[0]!.metadata?.profileSha256).toBe(profileSha256(config.profiles.small!))
    expect(started[0]!.metadata?.profileSha256).toMatch(/^[0-9a-f]{64}$/)
    expect(started[0]!.metadata?.configSha256).toBe(config.sha256)
    const runFile = JSON.parse(readFileSync(join(dataDir, 'run', 'sleeper.json'), 'utf8'))
    expect(runFile.pid).toBe(status.pid)
    expect(runFile.uid).toBe(status.uid)
    expect(typeof runFile.startTime).toBe('number')
    const log = join(dataDir, 'logs', 'sleeper.log')
    await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('started'), 'the log line')
    expect(readFileSync(`/proc/${status.pid}/status`, 'utf8')).toMatch(new RegExp(`Uid:\\s+${status.uid}\\s`))
    expect(existsSync(`${hostMountBase}/small`)).toBe(true)
  })

  it('emits metrics for a running service', async () => {
    const samples: ResourceSample[][] = []
    supervisor.on('metrics', (batch: ResourceSample[]) => samples.push(batch))
    await supervisor.start('sleeper', 'token:test')
    const batch = await waitFor(() => samples.find((b) => b.some((s) => s.service === 'sleeper')), 'a metrics batch')
    const sample = batch.find((s) => s.service === 'sleeper')!
    expect(sample.pids).toBeGreaterThanOrEqual(1)
    expect(sample.pidsLimit).toBe(16)
    expect(sample.memoryLimitBytes).toBe(64 * 1024 * 1024)
  })

  it('terminates a service and empties its cgroup', async () => {
    const { pid } = await supervisor.start('sleeper', 'token:test')
    const dirs = leafDirs('sleeper').filter((dir) => existsSync(dir))
    expect(dirs.length).toBeGreaterThan(0)
    const status = await supervisor.terminate('sleeper', 'token:admin')
    expect(status.state).toBe('stopped')
    expect(status.pid).toBeNull()
    for (const dir of dirs) expect(existsSync(dir)).toBe(false)
    expect(existsSync(`/proc/${pid}`)).toBe(false)
    const terminated = eventsOf('SERVICE_TERMINATED', 'sleeper')
    expect(terminated).toHaveLength(1)
    expect(terminated[0]!.actor).toBe('token:admin')
    expect(terminated[0]!.pid).toBe(pid)
    expect(eventsOf('SERVICE_EXITED', 'sleeper')).toHaveLength(1)
    expect(existsSync(join(dataDir, 'run', 'sleeper.json'))).toBe(false)
  })

  it('isolates and resumes a service', async () => {
    const { pid } = await supervisor.start('sleeper', 'token:test')
    expect(linkFlags(pid!, 'lo')).toMatch(/<[^>]*\bUP\b/)
    const isolated = await supervisor.isolate('sleeper', 'rule:test', 'suspicious')
    expect(isolated.state).toBe('isolated')
    expect(isolated.blocked).toBe(true)
    const freezerDir = join(layout.v1.freezer ?? '', cgroupRoot, 'sleeper')
    expect(readFileSync(join(freezerDir, 'freezer.state'), 'utf8').trim()).toBe('FROZEN')
    expect(linkFlags(pid!, 'lo')).not.toMatch(/<[^>]*\bUP\b/)
    const event = eventsOf('SERVICE_ISOLATED', 'sleeper')[0]
    expect(event?.actor).toBe('rule:test')
    expect(event?.metadata?.reason).toBe('suspicious')
    const resumed = await supervisor.resume('sleeper', 'token:test')
    expect(resumed.state).toBe('running')
    expect(resumed.blocked).toBe(false)
    expect(readFileSync(join(freezerDir, 'freezer.state'), 'utf8').trim()).toBe('THAWED')
    expect(linkFlags(pid!, 'lo')).toMatch(/<[^>]*\bUP\b/)
    expect(eventsOf('SERVICE_RESUMED', 'sleeper')).toHaveLength(1)
  })

  it('blocks and unblocks the network', async () => {
    const { pid } = await supervisor.start('sleeper', 'token:test')
    const blocked = await supervisor.block('sleeper', 'token:test')
    expect(blocked.blocked).toBe(true)
    expect(blocked.state).toBe('running')
    expect(linkFlags(pid!, 'lo')).not.toMatch(/<[^>]*\bUP\b/)
    const unblocked = await supervisor.unblock('sleeper', 'token:test')
    expect(unblocked.blocked).toBe(false)
    expect(linkFlags(pid!, 'lo')).toMatch(/<[^>]*\bUP\b/)
  })

  it('terminates an isolated service', async () => {
    const { pid } = await supervisor.start('sleeper', 'token:test')
    await supervisor.isolate('sleeper', 'token:test')
    const status = await supervisor.terminate('sleeper', 'token:test')
    expect(status.state).toBe('stopped')
    expect(existsSync(`/proc/${pid}`)).toBe(false)
    for (const dir of leafDirs('sleeper')) expect(existsSync(dir)).toBe(false)
  })

  it('rejects invalid transitions and names', async () => {
    await expect(supervisor.resume('sleeper', 'token:test')).rejects.toMatchObject({ code: 'INVALID_STATE', statusCode: 409 })
    await expect(supervisor.stop('sleeper', 'token:test')).rejects.toMatchObject({ code: 'INVALID_STATE' })
    expect(() => supervisor.get('nope')).toThrow(/service "nope" not found; known services: sleeper, missing, missing-retry/)
    await supervisor.start('sleeper', 'token:test')
    await expect(supervisor.start('sleeper', 'token:test')).rejects.toMatchObject({ code: 'INVALID_STATE' })
    await expect(supervisor.resume('sleeper', 'token:test')).rejects.toMatchObject({ code: 'INVALID_STATE' })
  })

  it('stops a service with SIGTERM', async () => {
    await supervisor.start('sleeper', 'token:test')
    // SIGTERM must reach sleep: sh as PID 1 of its namespace has no handler, so the kernel drops it there.
    const pidsFile = join(layout.v1.pids ?? '', cgroupRoot, 'sleeper', 'pids.current')
    await waitFor(() => readFileSync(pidsFile, 'utf8').trim() === '2', 'sh and sleep in the cgroup')
    const startedAt = Date.now()
    const status = await supervisor.stop('sleeper', 'token:test')
    expect(status.state).toBe('stopped')
    expect(Date.now() - startedAt).toBeLessThan(300)
    const stopped = eventsOf('SERVICE_STOPPED', 'sleeper')
    expect(stopped).toHaveLength(1)
    expect(stopped[0]!.metadata?.signal).toBeNull()
    // The process group's SIGTERM ends sleep, and sh reports that as 128 + 15.
    expect(stopped[0]!.metadata?.code).toBe(143)
  })

  it('stops a service ignoring SIGTERM with SIGKILL', async () => {
    await supervisor.start('stubborn', 'token:test')
    await waitFor(() => readFileSync(join(dataDir, 'logs', 'stubborn.log'), 'utf8').includes('started'), 'the log line')
    const startedAt = Date.now()
    const status = await supervisor.stop('stubborn', 'token:test')
    expect(status.state).toBe('stopped')
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(300)
    const stopped = eventsOf('SERVICE_STOPPED', 'stubborn')
    expect(stopped).toHaveLength(1)
    expect(stopped[0]!.metadata?.signal).toBe('SIGKILL')
    expect(supervisor.get('stubborn').restarts).toBe(0)
  })

  it('records a missing command as LAUNCH_FAILED', async () => {
    const status = await supervisor.start('missing', 'token:test')
    expect(status.state).toBe('failed')
    expect(status.lastError).toMatch(/command "blackhole-no-such-command" not found in PATH/)
    const failed = eventsOf('LAUNCH_FAILED', 'missing')
    expect(failed).toHaveLength(1)
    expect(failed[0]!.metadata?.step).toBe('resolve command')
    expect(failed[0]!.metadata?.code).toBe('ENOENT')
    for (const dir of leafDirs('missing')) expect(existsSync(dir)).toBe(false)
  })

  it('records a writable path under a file as LAUNCH_FAILED', async () => {
    const status = await supervisor.start('under-file', 'token:test')
    expect(status.state).toBe('failed')
    const failed = eventsOf('LAUNCH_FAILED', 'under-file')
    expect(failed).toHaveLength(1)
    expect(failed[0]!.metadata?.step).toBe('mount point')
    expect(failed[0]!.metadata?.code).toBe('ENOTDIR')
    expect(failed[0]!.metadata?.detail).toBe(`${badConfigFile}/sub`)
  })

  it('records the exit of a failing service', async () => {
    await supervisor.start('quick', 'token:test')
    const exited = await waitFor(() => eventsOf('SERVICE_EXITED', 'quick')[0], 'SERVICE_EXITED')
    expect(exited.metadata?.exitCode).toBe(3)
    expect(exited.severity).toBe('medium')
    const status = supervisor.get('quick')
    expect(status.state).toBe('failed')
    expect(status.exitCode).toBe(3)
    expect(status.lastError).toBe('quick exited with code 3')
  })

  it('stops a service that allocates past max_memory', async () => {
    await supervisor.start('hog', 'token:test')
    const exited = await waitFor(() => eventsOf('SERVICE_EXITED', 'hog')[0], 'SERVICE_EXITED', 20_000)
    const failed = exited.metadata?.exitCode !== 0 || exited.metadata?.signal !== null
    expect(failed).toBe(true)
    expect(supervisor.get('hog').state).toBe('failed')
    if (exited.metadata?.signal === 'SIGKILL') {
      expect(exited.metadata?.oomKilled).toBe(true)
      expect(exited.severity).toBe('high')
      expect(eventsOf('OOM_KILL', 'hog')).toHaveLength(1)
    }
  })

  it('records an OOM kill in the cgroup', async () => {
    // Six shells each build a 16 MiB string: each stays under its RLIMIT_AS
    // of 64 MiB, but together they pass the cgroup's 64 MiB.
    await supervisor.start('greedy', 'token:test')
    const oom = await waitFor(() => eventsOf('OOM_KILL', 'greedy')[0], 'OOM_KILL', 20_000)
    expect(oom.severity).toBe('high')
    expect(oom.metadata?.oomKills).toBeGreaterThanOrEqual(1)
    expect(oom.metadata?.memoryLimitBytes).toBe(64 * 1024 * 1024)
  })

  it('stops a fork bomb at max_processes', async () => {
    let maxPids = 0
    supervisor.on('metrics', (batch: ResourceSample[]) => {
      for (const sample of batch) if (sample.service === 'forker') maxPids = Math.max(maxPids, sample.pids)
    })
    const { pid } = await supervisor.start('forker', 'token:test')
    const pidsDir = join(layout.v1.pids ?? '', cgroupRoot, 'forker')
    let peak = 0
    while (existsSync(`/proc/${pid}`) && existsSync(join(pidsDir, 'pids.current'))) {
      try {
        peak = Math.max(peak, Number(readFileSync(join(pidsDir, 'pids.current'), 'utf8')))
      } catch {
        break
      }
      await new Promise((resolve) => setTimeout(resolve, 5))
      if (eventsOf('SERVICE_EXITED', 'forker').length > 0) break
    }
    const exited = await waitFor(() => eventsOf('SERVICE_EXITED', 'forker')[0], 'SERVICE_EXITED', 20_000)
    expect(peak).toBeLessThanOrEqual(16)
    expect(maxPids).toBeLessThanOrEqual(16)
    expect(typeof exited.metadata?.forkRejections).toBe('number')
    // RLIMIT_NPROC and pids.max are both max_processes; whichever rejects first, the shell reports the failed fork.
    const log = readFileSync(join(dataDir, 'logs', 'forker.log'), 'utf8')
    expect(log).toMatch(/fork/i)
  })

  it('records a denied syscall as ACCESS_DENIED', async () => {
    await supervisor.start('denied', 'token:test')
    const log = join(dataDir, 'logs', 'denied.log')
    await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('unshare status'), 'the unshare result')
    expect(readFileSync(log, 'utf8')).toMatch(/unshare status [1-9]/)
    const denied = await waitFor(
      () => eventsOf('ACCESS_DENIED', 'denied').find((e) => e.metadata?.syscall === 'unshare'),
      'ACCESS_DENIED for unshare',
    )
    expect(denied.severity).toBe('medium')
    expect(denied.metadata?.errno).toBe(1)
    const observed = await waitFor(
      () => eventsOf('SYSCALL_OBSERVED', 'denied').find((e) => e.metadata?.syscall === 'execve'),
      'SYSCALL_OBSERVED for execve',
    )
    expect(observed.severity).toBe('info')
  })

  it('drops a capability the host cannot grant', async () => {
    const status = await supervisor.start('keeper', 'token:test')
    expect(status.state).toBe('running')
    const warnings = eventsOf('PROFILE_WARNING', 'keeper')
    expect(warnings.some((w) => w.description.includes('CAP_SYS_RESOURCE'))).toBe(true)
    const capEff = /CapEff:\s+([0-9a-f]+)/.exec(readFileSync(`/proc/${status.pid}/status`, 'utf8'))![1]!
    // CAP_NET_BIND_SERVICE is bit 10 and the only one left.
    expect(BigInt(`0x${capEff}`)).toBe(1n << 10n)
  })

  it('keeps persistent paths in the data folder', async () => {
    const status = await supervisor.start('keeper', 'token:test')
    const volume = join(dataDir, 'volumes', 'keeper', `_var_data_blackhole-test-${process.pid}`)
    await waitFor(() => existsSync(join(volume, 'file')), 'the file in the volume')
    expect(readFileSync(join(volume, 'file'), 'utf8')).toBe('kept\n')
    const { statSync } = await import('node:fs')
    const info = statSync(volume)
    expect(info.uid).toBe(status.uid)
    expect(info.mode & 0o777).toBe(0o700)
  })

  it('restarts on failure with backoff', async () => {
    await supervisor.start('flaky', 'token:test')
    await waitFor(() => eventsOf('SERVICE_STARTED', 'flaky').length >= 2, 'a restart', 5000)
    const status = supervisor.get('flaky')
    expect(status.restarts).toBeGreaterThanOrEqual(1)
    const started = eventsOf('SERVICE_STARTED', 'flaky')
    expect(started[1]!.actor).toBe('supervisor')
    // Stopping cancels the next restart.
    await waitFor(() => supervisor.get('flaky').state === 'failed', 'the next failure')
    await supervisor.stop('flaky', 'token:test')
    const count = eventsOf('SERVICE_STARTED', 'flaky').length
    await new Promise((resolve) => setTimeout(resolve, 2500))
    expect(eventsOf('SERVICE_STARTED', 'flaky')).toHaveLength(count)
    expect(supervisor.get('flaky').state).toBe('stopped')
  })

  it('retries a failed launch with backoff', async () => {
    await supervisor.start('missing-retry', 'token:test')
    const first = Date.now()
    await waitFor(() => eventsOf('LAUNCH_FAILED', 'missing-retry').length >= 2, 'a second attempt', 5000)
    // The first retry waits 1 s, the next one 2 s.
    expect(Date.now() - first).toBeGreaterThanOrEqual(900)
    expect(supervisor.get('missing-retry').restarts).toBe(1)
    await supervisor.stop('missing-retry', 'token:test')
    expect(supervisor.get('missing-retry').state).toBe('stopped')
    await new Promise((resolve) => setTimeout(resolve, 2200))
    expect(eventsOf('LAUNCH_FAILED', 'missing-retry')).toHaveLength(2)
  })

  it('records SUPERVISOR_STOPPED at shutdown', async () => {
    await supervisor.start('sleeper', 'token:test')
    await supervisor.shutdown('token:admin')
    const stopped = eventsOf('SUPERVISOR_STOPPED')
    expect(stopped).toHaveLength(1)
    expect(stopped[0]!.actor).toBe('token:admin')
    expect(supervisor.get('sleeper').state).toBe('stopped')
    for (const dir of leafDirs('sleeper')) expect(existsSync(dir)).toBe(false)
    await expect(supervisor.start('sleeper', 'token:test')).rejects.toMatchObject({ code: 'INVALID_STATE' })
  })
})
