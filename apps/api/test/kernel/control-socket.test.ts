// The per-service control socket with real processes. The service itself
// is accepted and its READY and STATUS are recorded. Root on the host, the
// service's uid outside its cgroup and other uids are kept out.

import { execFile } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { parseConfig, type Config } from '@blackhole/policy'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { detectLayout } from '../../src/sandbox/cgroups.js'
import { controlDir } from '../../src/sandbox/control-socket.js'
import { Supervisor } from '../../src/sandbox/supervisor.js'
import type { AuditInput } from '../../src/types.js'

const execFileAsync = promisify(execFile)
const cgroupRoot = `blackhole-controltest-${process.pid}`
const layout = detectLayout()

// Reports a status and readiness over one connection, checks that the
// socket's folder is read-only, then keeps the connection open.
const notifyScript = `
import os, socket, time
path = os.environ['BLACKHOLE_CONTROL_SOCKET']
print('socket', path, flush=True)
try:
    open('/run/blackhole-control/planted', 'w')
    print('write ok', flush=True)
except OSError as e:
    print('write failed', e.errno, flush=True)
c = socket.socket(socket.AF_UNIX)
c.connect(path)
c.sendall(b'STATUS=warming up\\nREADY=1\\n')
time.sleep(0.2)
c.sendall(b'STATUS=serving 3 clients\\n')
print('sent', flush=True)
time.sleep(30)
`

// Connects to the socket given as argv[1], prints its pid and whether the
// supervisor closed the connection.
const clientScript = `
import os, socket, sys
c = socket.socket(socket.AF_UNIX)
try:
    c.connect(sys.argv[1])
except OSError as e:
    print('connect failed', e.errno)
    sys.exit(0)
print('pid', os.getpid())
c.settimeout(3)
try:
    c.sendall(b'READY=1\\n')
    data = c.recv(16)
    print('closed' if data == b'' else 'open')
except socket.timeout:
    print('open')
except OSError as e:
    print('closed', e.errno)
`

function configText(): string {
  return `
security_profiles:
  notifier:
    network:
      allow_unix_sockets: true
    resource_limits:
      max_memory: 256MiB
services:
  notifier:
    profile: notifier
    command: /usr/bin/python3
    args: ['-c', ${JSON.stringify(notifyScript)}]
    autostart: false
`
}

let config: Config
let dataDir: string
let events: AuditInput[]
let supervisor: Supervisor

async function waitFor<T>(read: () => T | undefined | null | false, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = read()
    if (value !== undefined && value !== null && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

function serviceLog(): string {
  try {
    return readFileSync(join(dataDir, 'logs', 'notifier.log'), 'utf8')
  } catch {
    return ''
  }
}

/** Runs the client, optionally under another uid and gid with setpriv, and returns its output lines. */
async function connectAs(path: string, ids: { uid: number; gid: number } | null): Promise<string[]> {
  const python = ['/usr/bin/python3', '-c', clientScript, path]
  const command = ids === null
    ? python
    : ['setpriv', `--reuid=${ids.uid}`, `--regid=${ids.gid}`, '--clear-groups', ...python]
  const result = await execFileAsync(command[0]!, command.slice(1), { timeout: 10_000 })
  return result.stdout.trim().split('\n')
}

function rejections(): AuditInput[] {
  return events.filter((e) => e.type === 'CONTROL_REJECTED')
}

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('the kernel tests need root')
  const parsed = parseConfig(configText(), join(tmpdir(), 'control-test.yaml'))
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
  // /tmp paths from mkdtemp are short enough for the 107-byte socket path limit.
  dataDir = mkdtempSync(join(tmpdir(), 'control-test-'))
  // Traversable down to the service's own folder, so only that folder and
  // the socket's mode and the peer check decide who gets in.
  chmodSync(dataDir, 0o755)
  mkdirSync(join(dataDir, 'control'), { mode: 0o755 })
  events = []
  supervisor = new Supervisor({
    config,
    configPath: join(tmpdir(), 'control-test.yaml'),
    dataDir,
    cgroupRoot,
    graceMs: 300,
    record: async (input) => {
      events.push(input)
    },
  })
})

afterEach(async () => {
  await supervisor.shutdown('test')
  const left = existsSync(controlDir(dataDir, 'notifier'))
  rmSync(dataDir, { recursive: true, force: true })
  expect(left).toBe(false)
})

describe('control socket', () => {
  it('accepts the service and records READY and STATUS', async () => {
    const status = await supervisor.start('notifier', 'test')
    const ready = await waitFor(() => events.find((e) => e.type === 'SERVICE_READY'), 'SERVICE_READY')
    expect(ready.service).toBe('notifier')
    expect(ready.metadata?.peerUid).toBe(status.uid)
    expect(ready.metadata?.status).toBe('warming up')
    await waitFor(() => supervisor.controlState('notifier').statusText === 'serving 3 clients', 'the second STATUS')
    const state = supervisor.controlState('notifier')
    expect(state.ready).toBe(true)
    expect(state.statusText).toBe('serving 3 clients')
    expect(rejections()).toEqual([])
    const log = serviceLog()
    expect(log).toContain('socket /run/blackhole-control/control.sock')
    // EROFS (30): the socket's folder is bound read-only into the sandbox.
    expect(log).toContain('write failed 30')
  })

  it('creates the socket for the service uid in a 0750 folder', async () => {
    const status = await supervisor.start('notifier', 'test')
    const dir = controlDir(dataDir, 'notifier')
    const folder = statSync(dir)
    expect(folder.mode & 0o7777).toBe(0o750)
    expect(folder.uid).toBe(0)
    expect(folder.gid).toBe(status.gid)
    const socket = statSync(join(dir, 'control.sock'))
    expect(socket.isSocket()).toBe(true)
    expect(socket.mode & 0o7777).toBe(0o600)
    expect(socket.uid).toBe(status.uid)
  })

  it('rejects root on the host and records its credentials', async () => {
    await supervisor.start('notifier', 'test')
    await waitFor(() => events.find((e) => e.type === 'SERVICE_READY'), 'SERVICE_READY')
    const output = await connectAs(join(controlDir(dataDir, 'notifier'), 'control.sock'), null)
    const pid = Number(output[0]!.split(' ')[1])
    expect(output[1]).toMatch(/^closed/)
    const rejected = await waitFor(() => rejections()[0], 'CONTROL_REJECTED')
    expect(rejected.service).toBe('notifier')
    expect(rejected.pid).toBe(pid)
    expect(rejected.metadata?.peerPid).toBe(pid)
    expect(rejected.metadata?.peerUid).toBe(0)
    expect(rejected.metadata?.peerGid).toBe(0)
    expect(rejected.metadata?.reason).toContain('uid 0 is not')
    expect(events.filter((e) => e.type === 'SERVICE_READY')).toHaveLength(1)
  })

  it('rejects the service uid from outside its cgroup', async () => {
    const status = await supervisor.start('notifier', 'test')
    await waitFor(() => events.find((e) => e.type === 'SERVICE_READY'), 'SERVICE_READY')
    const output = await connectAs(join(controlDir(dataDir, 'notifier'), 'control.sock'), { uid: status.uid!, gid: status.gid! })
    const pid = Number(output[0]!.split(' ')[1])
    expect(output[1]).toMatch(/^closed/)
    const rejected = await waitFor(() => rejections()[0], 'CONTROL_REJECTED')
    expect(rejected.metadata?.peerPid).toBe(pid)
    expect(rejected.metadata?.peerUid).toBe(status.uid)
    expect(rejected.metadata?.peerGid).toBe(status.gid)
    expect(rejected.metadata?.reason).toContain(`pid ${pid} is not in the service's cgroup`)
    expect(events.filter((e) => e.type === 'SERVICE_READY')).toHaveLength(1)
  })

  it('keeps other uids out by file permissions', async () => {
    const status = await supervisor.start('notifier', 'test')
    const path = join(controlDir(dataDir, 'notifier'), 'control.sock')
    // EACCES (13): neither the 0750 folder nor the 0600 socket admits uid 65534.
    expect(await connectAs(path, { uid: 65534, gid: 65534 })).toEqual(['connect failed 13'])
    // With the service's group the folder opens, but the socket is the service uid's alone.
    expect(await connectAs(path, { uid: 65534, gid: status.gid! })).toEqual(['connect failed 13'])
    expect(rejections()).toEqual([])
  })

  it('removes the socket and its folder when the service stops', async () => {
    await supervisor.start('notifier', 'test')
    expect(existsSync(controlDir(dataDir, 'notifier'))).toBe(true)
    await supervisor.stop('notifier', 'test')
    expect(existsSync(controlDir(dataDir, 'notifier'))).toBe(false)
    expect(supervisor.controlState('notifier').ready).toBe(false)
  })
})
