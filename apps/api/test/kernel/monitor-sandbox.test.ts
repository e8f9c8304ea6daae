// The monitors against real sandboxes started by the Supervisor: a Landlock
// denial, a listening socket and a connection, an exec, fork and exit, and
// resource samples with descriptor counts. Kernel audit is enabled only
// while the Landlock tests run and set back to its previous value after.
//
// The netlink readers come from the native addon. A build of
// packages/native without src/monitor_netlink.cc leaves the Landlock
// monitor unavailable and the process monitor polling; the tests check
// that documented state then. BLACKHOLE_MONITOR_ADDON may name another
// build of the addon that has them.

import { existsSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { parseConfig, type Config } from '@blackhole/policy'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { MIGRATIONS_DIR } from '../../src/db/client.js'
import { applyMigrations } from '../../src/db/migrate.js'
import { probeMonitors } from '../../src/monitor/index.js'
import { LandlockMonitor } from '../../src/monitor/landlock-monitor.js'
import { loadMonitorAddon } from '../../src/monitor/native.js'
import { NetworkMonitor } from '../../src/monitor/network-monitor.js'
import { ProcessMonitor, type ProcessNode } from '../../src/monitor/process-monitor.js'
import { ResourceHistory, type HistorySample } from '../../src/monitor/resource-history.js'
import { ServiceResolver, supervisorServices } from '../../src/monitor/services.js'
import { detectLayout } from '../../src/sandbox/cgroups.js'
import { Supervisor } from '../../src/sandbox/supervisor.js'
import type { AuditInput, ResourceSample } from '../../src/types.js'

const cgroupRoot = `blackhole-test-monitor-${process.pid}`
const layout = detectLayout()
const loaded = loadMonitorAddon()

const LISTENER = `
import socket, time
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(('127.0.0.1', 50001))
server.listen(4)
server6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
server6.bind(('::1', 50001))
server6.listen(4)
time.sleep(1.5)
client = socket.create_connection(('127.0.0.1', 50001))
peer, _ = server.accept()
time.sleep(1.5)
client.close()
peer.close()
time.sleep(30)
`

const DENIED_BIND = `
import socket, time
time.sleep(1)
try:
    open('/etc/hostname').read()
    print('read allowed')
except OSError as error:
    print('read failed', error.errno)
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    sock.bind(('127.0.0.1', 50002))
    print('bind allowed')
except OSError as error:
    print('bind failed', error.errno)
time.sleep(30)
`

function configText(): string {
  return `
security_profiles:
  net:
    network:
      allow_localhost: true
      allowed_ports: [50001]
    resource_limits:
      max_processes: 32
  walled:
    extends: net
    filesystem:
      denied_paths: [/etc/hostname]
services:
  listener:
    profile: net
    command: /usr/bin/python3
    args: ['-c', ${JSON.stringify(LISTENER)}]
    autostart: false
  execer:
    profile: net
    command: /bin/sh
    args: ['-c', 'sleep 1.5; exec sleep 30']
    autostart: false
  lander:
    profile: walled
    command: /usr/bin/python3
    args: ['-c', ${JSON.stringify(DENIED_BIND)}]
    autostart: false
  files:
    profile: net
    command: /bin/sh
    args: ['-c', 'sleep 1; for i in 1 2 3; do sleep 30 & done; wait']
    autostart: false
`
}

let config: Config
let dataDir: string
let events: AuditInput[]
let supervisor: Supervisor
let resolver: ServiceResolver

const record = (input: AuditInput) => {
  events.push(input)
}

function eventsOf(type: string, service: string): AuditInput[] {
  return events.filter((event) => event.type === type && event.service === service)
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

function flatten(nodes: ProcessNode[]): ProcessNode[] {
  return nodes.flatMap((node) => [node, ...flatten(node.children)])
}

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('the kernel tests need root')
  const parsed = parseConfig(configText(), join(tmpdir(), 'monitor-test.yaml'))
  if (!parsed.ok) throw new Error(`test config invalid: ${JSON.stringify(parsed.errors)}`)
  config = parsed.config
})

afterAll(() => {
  for (const mount of new Set([...Object.values(layout.v1), ...(layout.unified ? [layout.unified] : [])])) {
    const dir = join(mount, cgroupRoot)
    if (existsSync(dir)) rmdirSync(dir)
  }
})

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'monitor-test-'))
  events = []
  supervisor = new Supervisor({
    config, configPath: join(tmpdir(), 'monitor-test.yaml'), dataDir, cgroupRoot, graceMs: 300, metricsIntervalMs: 200, record,
  })
  resolver = new ServiceResolver(supervisorServices(supervisor, { cgroupRoot, layout }), layout)
})

afterEach(async () => {
  await supervisor.shutdown('test')
  rmSync(dataDir, { recursive: true, force: true })
})

describe('ServiceResolver', () => {
  it('maps sandbox pids to their service', async () => {
    const status = await supervisor.start('files', 'test')
    resolver.refresh()
    const pids = await waitFor(() => {
      const found = resolver.pidsOf('files')
      return found.length >= 4 && found
    }, 'four processes in the cgroup')
    expect(pids).toContain(status.pid)
    for (const pid of pids) expect(resolver.serviceOf(pid)).toBe('files')
    expect(resolver.serviceOf(process.pid)).toBeNull()
  })
})

describe('NetworkMonitor', () => {
  it('records a listener and a connection', async () => {
    const monitor = new NetworkMonitor({ record, services: resolver, intervalMs: 100 })
    monitor.start()
    try {
      await supervisor.start('listener', 'test')
      const listen = await waitFor(() => eventsOf('NETWORK_LISTEN', 'listener')[0], 'NETWORK_LISTEN')
      expect(listen.metadata?.address).toBe('127.0.0.1')
      expect(listen.metadata?.port).toBe(50001)
      expect(listen.metadata?.protocol).toBe('tcp')
      expect(listen.severity).toBe('low')

      const listen6 = await waitFor(
        () => eventsOf('NETWORK_LISTEN', 'listener').find((event) => event.metadata?.protocol === 'tcp6'),
        'NETWORK_LISTEN on tcp6',
      )
      expect(listen6.metadata?.address).toBe('::1')
      expect(listen6.metadata?.port).toBe(50001)
      expect(listen6.description).toBe('listener listens on tcp6 [::1]:50001')

      const snapshot = monitor.snapshot('listener')!
      expect(snapshot.listeners.some((l) => l.port === 50001 && l.address === '127.0.0.1')).toBe(true)

      const connections = await waitFor(() => {
        const found = eventsOf('NETWORK_CONNECTION', 'listener')
        return found.length >= 2 && found
      }, 'both ends of the connection')
      const remotePorts = connections.map((event) => event.metadata?.remotePort)
      expect(remotePorts).toContain(50001)
      expect(monitor.snapshot('listener')!.connections.length).toBeGreaterThanOrEqual(2)

      const closed = await waitFor(() => {
        const found = eventsOf('NETWORK_CONNECTION_CLOSED', 'listener')
        return found.length >= 2 && found
      }, 'the connection to close')
      expect(closed[0]!.severity).toBe('info')
      expect(monitor.stats().dropped).toBe(0)
      // The host's own network namespace does not have the sandbox's listener.
      expect(events.filter((e) => e.type === 'NETWORK_LISTEN' && e.service !== 'listener')).toEqual([])
    } finally {
      monitor.stop()
    }
  })

  it('returns no snapshot for a stopped service', () => {
    const monitor = new NetworkMonitor({ record, services: resolver })
    monitor.poll()
    expect(monitor.snapshot('listener')).toBeNull()
  })
})

describe('ProcessMonitor', () => {
  it('records exec, fork and exit', async () => {
    const monitor = new ProcessMonitor({ record, services: resolver, intervalMs: 100 })
    monitor.start()
    try {
      const status = await supervisor.start('execer', 'test')
      const exec = await waitFor(
        () => eventsOf('PROCESS_EXEC', 'execer').find((e) => (e.metadata?.command as string[])?.join(' ') === 'sleep 30'),
        'PROCESS_EXEC of sleep 30',
      )
      expect(exec.pid).toBe(status.pid)
      const tree = monitor.tree('execer')!
      const main = flatten(tree).find((node) => node.pid === status.pid)!
      expect(main.command).toEqual(['sleep', '30'])
      expect(main.uid).toBe(status.uid)

      const stats = monitor.stats()
      if (loaded.addon !== null) {
        expect(stats.mode).toBe('proc-connector')
        // The `sleep 1.5` child: forked, ran and exited with code 0.
        const exit = await waitFor(
          () => eventsOf('PROCESS_EXIT', 'execer')[0],
          `PROCESS_EXIT among ${JSON.stringify(events.filter((e) => e.type.startsWith('PROCESS_')))}`,
        )
        expect(exit.metadata?.exitCode).toBe(0)
        expect(exit.metadata?.command).toEqual(['sleep', '1.5'])
        const fork = eventsOf('PROCESS_FORK', 'execer')[0]!
        expect(fork.metadata?.parentPid).toBe(status.pid)
        expect(stats.forks.execer).toBeGreaterThanOrEqual(1)
      } else {
        expect(stats.mode).toBe('poll')
        expect(stats.fallbackReason).toBe(loaded.reason)
      }
      expect(stats.dropped).toBe(0)
    } finally {
      monitor.stop()
    }
  })

  it('records exec by polling cgroup.procs', async () => {
    const monitor = new ProcessMonitor({ record, services: resolver, intervalMs: 100, mode: 'poll' })
    monitor.start()
    try {
      const status = await supervisor.start('execer', 'test')
      const exec = await waitFor(
        () => eventsOf('PROCESS_EXEC', 'execer').find((e) => (e.metadata?.command as string[])?.join(' ') === 'sleep 30'),
        'PROCESS_EXEC of sleep 30',
      )
      expect(exec.pid).toBe(status.pid)
      expect(exec.metadata?.source).toBe('poll')
      const exit = await waitFor(() => eventsOf('PROCESS_EXIT', 'execer')[0], 'PROCESS_EXIT of sleep 1.5')
      expect(exit.metadata?.command).toEqual(['sleep', '1.5'])
      expect(monitor.stats().mode).toBe('poll')
    } finally {
      monitor.stop()
    }
  })
})

describe('LandlockMonitor', () => {
  let previousAudit: number | null = null

  beforeAll(() => {
    // The kernel logs Landlock denials only while audit is enabled.
    if (loaded.addon !== null) previousAudit = loaded.addon.auditSetEnabled(1)
  })

  afterAll(() => {
    if (loaded.addon !== null && previousAudit !== null) loaded.addon.auditSetEnabled(previousAudit as 0 | 1)
  })

  it('records a denied read and bind', async () => {
    const monitor = new LandlockMonitor({ record, services: resolver })
    monitor.start()
    try {
      if (loaded.addon === null) {
        expect(monitor.stats().available).toBe(false)
        expect(monitor.stats().reason).toBe(loaded.reason)
        expect(loaded.reason).toMatch(/NetlinkReader|not found/)
        return
      }
      expect(monitor.stats().available).toBe(true)
      expect(monitor.stats().auditEnabled).toBe(1)
      const status = await supervisor.start('lander', 'test')
      const read = await waitFor(
        () => eventsOf('LANDLOCK_DENIED', 'lander').find((event) => event.metadata?.path === '/etc/hostname'),
        `LANDLOCK_DENIED of /etc/hostname among ${JSON.stringify(eventsOf('LANDLOCK_DENIED', 'lander'))}`,
      )
      expect(read.metadata?.access).toEqual(['fs.read_file'])
      expect(read.pid).toBe(status.pid)
      const denial = await waitFor(
        () => eventsOf('LANDLOCK_DENIED', 'lander').find((event) => event.metadata?.path === null),
        'LANDLOCK_DENIED of the bind',
      )
      expect(denial.metadata?.access).toEqual(['net.bind_tcp'])
      expect(denial.metadata?.src).toBe('50002')
      expect(denial.pid).toBe(status.pid)
      expect(denial.severity).toBe('medium')
      expect(monitor.stats().dropped).toBe(0)
    } finally {
      monitor.stop()
    }
  })
})

describe('probeMonitors', () => {
  it('reports each reader', () => {
    const probe = probeMonitors()
    if (loaded.addon === null) {
      expect(probe.auditNetlink.available).toBe(false)
      expect(probe.auditNetlink.reason).toBe(loaded.reason)
      expect(probe.procConnector.reason).toBe(loaded.reason)
      return
    }
    expect(probe.auditNetlink.available).toBe(true)
    expect(probe.auditNetlink.reason).toBeNull()
    expect(probe.auditNetlink.auditEnabled).toBe(loaded.addon.auditStatus().enabled)
    expect(probe.procConnector.available).toBe(true)
  })
})

describe('ResourceHistory', () => {
  it('stores samples with descriptor counts', async () => {
    const db = new Database(join(dataDir, 'history.db'))
    try {
      applyMigrations(db, MIGRATIONS_DIR)
      const history = new ResourceHistory({ database: db, services: resolver })
      const detach = history.attach(supervisor)
      const start = Date.now()
      await supervisor.start('files', 'test')
      const samples = await waitFor(() => {
        const range = history.range('files', start, Date.now())
        const withChildren = range.samples.filter((sample) => (sample as HistorySample).fds !== null && sample.time > start + 1500)
        return withChildren.length >= 2 && (range.samples as HistorySample[])
      }, 'samples after the children started')
      detach()
      const last = samples[samples.length - 1]!
      // Four processes (sh and three sleeps), each with at least stdin, stdout and stderr.
      expect(last.fds).toBeGreaterThanOrEqual(12)
      expect(last.pids).toBeGreaterThanOrEqual(4)
      expect(last.memoryBytes).toBeGreaterThan(0)
      const rows = db.prepare('SELECT * FROM "ResourceMinute" WHERE "service" = ?').all('files') as { fdsMax: number }[]
      expect(rows.length).toBeGreaterThanOrEqual(1)
      expect(rows.some((row) => row.fdsMax >= 12)).toBe(true)
    } finally {
      db.close()
    }
  })
})

// Keeps the type import used when the suite is trimmed.
export type { ResourceSample }
