// Socket activation with real sockets: the supervisor binds the profile's
// listen sockets as root and the service, without capabilities, serves on
// them through LISTEN_FDS. Each test checks that the sockets are closed and
// their files removed when the service ends.

import { execFile } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { closeFd, listenTcp } from '@blackhole/native'
import { parseConfig, type Config } from '@blackhole/policy'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { detectLayout } from '../../src/sandbox/cgroups.js'
import { listTable } from '../../src/sandbox/firewall.js'
import { Supervisor } from '../../src/sandbox/supervisor.js'
import type { AuditInput } from '../../src/types.js'

const execFileAsync = promisify(execFile)
const cgroupRoot = `blackhole-listentest-${process.pid}`
const layout = detectLayout()
const socketDir = `/run/blackhole-listentest-${process.pid}`
const socketPath = `${socketDir}/app.sock`
// A host folder that exists before the launch; the supervisor must leave it alone.
const existingDir = `/run/blackhole-listentest-existing-${process.pid}`

// Prints the activation variables, tries to bind port 80 itself, then
// sends an HTTP response to every connection on descriptor 3.
const httpScript = `
import os, socket
print('LISTEN_FDS=' + os.environ.get('LISTEN_FDS', ''), 'LISTEN_PID=' + os.environ.get('LISTEN_PID', ''),
      'LISTEN_FDNAMES=' + os.environ.get('LISTEN_FDNAMES', ''), 'pid=' + str(os.getpid()), flush=True)
own = socket.socket()
try:
    own.bind(('0.0.0.0', 80))
    print('own bind ok', flush=True)
except OSError as e:
    print('own bind failed', e.errno, flush=True)
srv = socket.socket(fileno=3)
while True:
    c, _ = srv.accept()
    c.recv(4096)
    c.sendall(b'HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nserved on an activated socket\\n')
    c.close()
`

const unixScript = `
import socket
srv = socket.socket(fileno=3)
while True:
    c, _ = srv.accept()
    c.sendall(b'hello over unix\\n')
    c.close()
`

function configText(): string {
  return `
security_profiles:
  web:
    capabilities: []
    network:
      allow_localhost: true
      # Landlock allows port 80, so a failed bind can only be the missing CAP_NET_BIND_SERVICE.
      allowed_ports: [80]
      listen:
        - socket: tcp:127.0.0.1:80
          name: web
    resource_limits:
      max_memory: 256MiB
  unixweb:
    network:
      allow_unix_sockets: true
      listen:
        - socket: unix:${socketPath}
          name: app
    resource_limits:
      max_memory: 256MiB
  badpath:
    network:
      listen:
        - unix:/run/app.sock
  takeover:
    network:
      allow_unix_sockets: true
      listen:
        - unix:${existingDir}/svc.sock
services:
  web:
    profile: web
    command: /usr/bin/python3
    args: ['-c', ${JSON.stringify(httpScript)}]
    autostart: false
  unixweb:
    profile: unixweb
    command: /usr/bin/python3
    args: ['-c', ${JSON.stringify(unixScript)}]
    autostart: false
  badpath:
    profile: badpath
    command: /bin/sleep
    args: ['30']
    autostart: false
  takeover:
    profile: takeover
    command: /bin/sleep
    args: ['30']
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

function serviceLog(name: string): string {
  try {
    return readFileSync(join(dataDir, 'logs', `${name}.log`), 'utf8')
  } catch {
    return ''
  }
}

async function httpGet(url: string): Promise<string> {
  const result = await execFileAsync('curl', ['-sS', '--max-time', '3', url]).catch((error: { stderr?: string }) => ({
    stdout: `failed: ${error.stderr ?? ''}`,
  }))
  return result.stdout
}

async function readUnix(path: string): Promise<string> {
  const script = `
import socket
c = socket.socket(socket.AF_UNIX)
c.connect('${path}')
print(c.recv(64).decode().strip())
`
  return (await execFileAsync('/usr/bin/python3', ['-c', script], { timeout: 10_000 })).stdout.trim()
}

/** True when 127.0.0.1:80 is free again, so the supervisor closed its copy. */
function port80Free(): boolean {
  try {
    closeFd(listenTcp('127.0.0.1', 80))
    return true
  } catch {
    return false
  }
}

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('the kernel tests need root')
  const parsed = parseConfig(configText(), join(tmpdir(), 'listen-test.yaml'))
  if (!parsed.ok) throw new Error(`test config invalid: ${JSON.stringify(parsed.errors)}`)
  config = parsed.config
})

afterAll(() => {
  rmSync(socketDir, { recursive: true, force: true })
  rmSync(existingDir, { recursive: true, force: true })
  for (const mount of new Set([...Object.values(layout.v1), ...(layout.unified ? [layout.unified] : [])])) {
    const dir = join(mount, cgroupRoot)
    if (existsSync(dir)) rmdirSync(dir)
  }
})

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'listen-test-'))
  events = []
  supervisor = new Supervisor({
    config,
    configPath: join(tmpdir(), 'listen-test.yaml'),
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
  rmSync(dataDir, { recursive: true, force: true })
  const table = listTable()
  if (table !== '') await execFileAsync('nft', ['delete', 'table', 'inet', 'blackhole'])
  expect(table).toBe('')
})

describe('socket activation', () => {
  it('serves HTTP on port 80 without capabilities', async () => {
    expect(port80Free()).toBe(true)
    const status = await supervisor.start('web', 'test')
    expect(status.state).toBe('running')
    expect(port80Free()).toBe(false)
    const log = await waitFor(() => (serviceLog('web').includes('own bind') ? serviceLog('web') : null), 'the service log')
    expect(log).toContain('LISTEN_FDS=1 ')
    expect(log).toContain('LISTEN_PID=1 ')
    expect(log).toContain('LISTEN_FDNAMES=web ')
    expect(log).toContain('pid=1')
    // EACCES (13): binding a port below 1024 needs CAP_NET_BIND_SERVICE.
    expect(log).toContain('own bind failed 13')
    expect(await httpGet('http://127.0.0.1:80/')).toBe('served on an activated socket\n')
    const started = events.find((e) => e.type === 'SERVICE_STARTED')!
    expect(started.metadata?.listen).toEqual([{ name: 'web', address: '127.0.0.1:80' }])
  })

  it('closes the TCP socket when the service stops', async () => {
    await supervisor.start('web', 'test')
    expect(port80Free()).toBe(false)
    await supervisor.stop('web', 'test')
    expect(port80Free()).toBe(true)
    expect((await httpGet('http://127.0.0.1:80/')).startsWith('failed')).toBe(true)
  })

  it('drops the listen port while blocked', async () => {
    await supervisor.start('web', 'test')
    await waitFor(() => serviceLog('web').includes('own bind'), 'the service to start serving')
    expect(await httpGet('http://127.0.0.1:80/')).toBe('served on an activated socket\n')
    await supervisor.block('web', 'test', 'listen test')
    expect(listTable()).toMatch(/set blocked_ports \{[^}]*elements = \{ 80 \}/)
    expect((await httpGet('http://127.0.0.1:80/')).startsWith('failed')).toBe(true)
    await supervisor.unblock('web', 'test')
    expect(await httpGet('http://127.0.0.1:80/')).toBe('served on an activated socket\n')
    expect(listTable()).toBe('')
  })

  it('creates a unix socket owned by the service in a 0750 folder', async () => {
    const status = await supervisor.start('unixweb', 'test')
    const socket = statSync(socketPath)
    expect(socket.isSocket()).toBe(true)
    expect(socket.mode & 0o7777).toBe(0o600)
    expect(socket.uid).toBe(status.uid)
    expect(socket.gid).toBe(status.gid)
    const folder = statSync(socketDir)
    expect(folder.mode & 0o7777).toBe(0o750)
    expect(folder.uid).toBe(0)
    expect(folder.gid).toBe(status.gid)
    expect(await readUnix(socketPath)).toBe('hello over unix')
  })

  it('removes the unix socket file when the service stops', async () => {
    await supervisor.start('unixweb', 'test')
    expect(existsSync(socketPath)).toBe(true)
    await supervisor.stop('unixweb', 'test')
    expect(existsSync(socketPath)).toBe(false)
  })

  it('fails the launch when the port is taken', async () => {
    const holder = listenTcp('127.0.0.1', 80)
    try {
      const status = await supervisor.start('web', 'test')
      expect(status.state).toBe('failed')
      expect(status.lastError).toContain('listen socket 127.0.0.1:80: bind failed')
      expect(status.lastError).toContain('(EADDRINUSE)')
      const failed = events.find((e) => e.type === 'LAUNCH_FAILED')!
      expect(failed.metadata?.step).toBe('listen socket')
      expect(failed.metadata?.code).toBe('EADDRINUSE')
      expect(existsSync(join(dataDir, 'control', 'web'))).toBe(false)
    } finally {
      closeFd(holder)
    }
  })

  it('leaves an existing host folder untouched', async () => {
    mkdirSync(existingDir, { mode: 0o755 })
    chmodSync(existingDir, 0o755)
    const status = await supervisor.start('takeover', 'test')
    expect(status.state).toBe('failed')
    expect(status.lastError).toContain('already exists and is not a socket folder made for this service')
    const after = statSync(existingDir)
    expect(after.mode & 0o7777).toBe(0o755)
    expect(after.uid).toBe(0)
    expect(after.gid).toBe(0)
    expect(existsSync(join(existingDir, 'svc.sock'))).toBe(false)
  })

  it('rejects a unix socket directly in a shared folder', async () => {
    const status = await supervisor.start('badpath', 'test')
    expect(status.state).toBe('failed')
    expect(status.lastError).toContain('/run is shared')
    const failed = events.find((e) => e.type === 'LAUNCH_FAILED')!
    expect(failed.metadata?.step).toBe('listen socket')
    expect(existsSync('/run/app.sock')).toBe(false)
  })
})
