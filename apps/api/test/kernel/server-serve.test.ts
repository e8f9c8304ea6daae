// Runs `bin/blackhole serve` as a real child process with the example
// config, as root, and drives it over REST and the WebSocket. Both example
// services must run in their sandboxes and terminate must stop one. SIGTERM
// must then stop everything and leave no cgroup behind. Needs `pnpm build`
// first, like every use of bin/blackhole.

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'

const BIN = fileURLToPath(new URL('../../../../bin/blackhole', import.meta.url))
const TOKEN = 'bh_kernel-test-admin-token-for-serve'
const SERVICES = ['identity', 'storage']
// Other checkouts on this host may run the example services too; a cgroup
// parent of its own keeps this test's cgroups apart from theirs.
const CGROUP_PARENT = `blackhole-serve-test-${process.pid}`

interface ServiceStatus {
  name: string
  state: string
  pid: number | null
  uid: number | null
  gid: number | null
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown = null
  while (Date.now() < deadline) {
    try {
      const value = await probe()
      if (value !== null) return value
    } catch (error) {
      lastError = error
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`)
}

/** Returns true when /proc/PID/net/tcp, which shows PID's network namespace, lists `port` in LISTEN. */
function listensOn(pid: number, port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  const lines = readFileSync(`/proc/${pid}/net/tcp`, 'utf8').trim().split('\n').slice(1)
  // Fields: sl, local address:port, remote address:port, state (0A = LISTEN).
  return lines.some((line) => {
    const fields = line.trim().split(/\s+/)
    return fields[1]?.endsWith(`:${hexPort}`) === true && fields[3] === '0A'
  })
}

/**
 * Sends an HTTP request from inside the network namespace of `pid`, where
 * 127.0.0.1 is the service's own loopback, and returns the response body.
 */
function fetchInside(pid: number, method: string, url: string, body?: string): string {
  const script =
    'const [method, url, body] = process.argv.slice(1);' +
    'fetch(url, { method, body: body || undefined }).then((r) => r.text()).then((t) => process.stdout.write(t))'
  return execFileSync('nsenter', [`--net=/proc/${pid}/ns/net`, process.execPath, '-e', script, method, url, body ?? ''], {
    encoding: 'utf8',
    timeout: 10_000,
  })
}

/** Service cgroups left under the test's parent in any v1 hierarchy or the unified one. */
function leftoverCgroups(): string[] {
  const found: string[] = []
  for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
    const parent = join('/sys/fs/cgroup', hierarchy, CGROUP_PARENT)
    if (!existsSync(parent)) continue
    for (const entry of readdirSync(parent, { withFileTypes: true })) {
      if (entry.isDirectory()) found.push(join(parent, entry.name))
    }
  }
  return found
}

/** Removes the test's cgroup parents, which the supervisor leaves when it cannot remove them. */
function removeCgroupParents(): void {
  for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
    const parent = join('/sys/fs/cgroup', hierarchy, CGROUP_PARENT)
    for (const path of [...leftoverCgroups().filter((leaf) => leaf.startsWith(parent)), parent]) {
      try {
        rmdirSync(path)
      } catch {
        // Missing, or still holding a process that afterAll could not kill.
      }
    }
  }
}

describe('blackhole serve', () => {
  let dir: string
  let dataDir: string
  let port: number
  let child: ChildProcess
  let output = ''
  let exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  const servicePids = new Set<number>()

  const api = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`http://127.0.0.1:${port}/api/v1${path}`, {
      ...init,
      headers: { authorization: `Bearer ${TOKEN}`, ...init.headers },
    })
    return { status: response.status, body: (await response.json()) as unknown }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'blackhole-serve-'))
    dataDir = join(dir, 'data')
    port = await freePort()
    child = spawn(process.execPath, [BIN, 'serve', '--data', dataDir, '--port', String(port), '--cgroup-parent', CGROUP_PARENT], {
      env: { ...process.env, BLACKHOLE_ADMIN_TOKEN: TOKEN, BLACKHOLE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child.stdout!.on('data', (chunk) => (output += String(chunk)))
    child.stderr!.on('data', (chunk) => (output += String(chunk)))
    exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
    await waitFor('GET /health', 20_000, async () => {
      if (child.exitCode !== null) throw new Error(`serve exited with ${child.exitCode}: ${output}`)
      const response = await fetch(`http://127.0.0.1:${port}/api/v1/health`)
      return response.ok ? true : null
    })
  })

  afterAll(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const stopped = await Promise.race([exit, new Promise((resolve) => setTimeout(() => resolve(null), 20_000))])
      if (stopped === null) child.kill('SIGKILL')
    }
    // Services are not children of the server; end any a failed test left running.
    for (const pid of servicePids) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // Already gone.
      }
    }
    removeCgroupParents()
    rmSync(dir, { recursive: true, force: true })
  })

  it('runs both example services', async () => {
    const services = await waitFor('both services running', 30_000, async () => {
      const { body } = await api('/services')
      const list = body as ServiceStatus[]
      return list.length === 2 && list.every((service) => service.state === 'running') ? list : null
    })
    for (const service of services) {
      expect(service.pid).toBeGreaterThan(1)
      expect(service.uid).toBeGreaterThan(0)
      expect(service.gid).toBeGreaterThan(0)
      servicePids.add(service.pid!)
      const status = readFileSync(`/proc/${service.pid}/status`, 'utf8')
      expect(status).toMatch(new RegExp(`^Uid:\\s+${service.uid}\\s`, 'm'))
    }
  })

  it('exits 1 when the port is taken', () => {
    // A cgroup parent of its own: the first serve holds the lock on CGROUP_PARENT.
    const parent = `${CGROUP_PARENT}-second`
    const second = spawnSync(process.execPath, [BIN, 'serve', '--data', join(dir, 'second'), '--port', String(port), '--cgroup-parent', parent], {
      env: { ...process.env, BLACKHOLE_ADMIN_TOKEN: TOKEN, BLACKHOLE_LOG_LEVEL: 'warn' },
      encoding: 'utf8',
      timeout: 30_000,
    })
    expect(second.status).toBe(1)
    expect(second.stderr).toContain(`blackhole: cannot listen on 127.0.0.1:${port}: `)
    expect(second.stderr).toContain('EADDRINUSE')
    // Services start only after listen succeeds, so this start launched none.
    const db = new Database(join(dir, 'second', 'blackhole.db'), { readonly: true })
    try {
      const started = db.prepare(`SELECT COUNT(*) AS count FROM AuditEvent WHERE type = 'SERVICE_STARTED'`).get() as { count: number }
      expect(started.count).toBe(0)
    } finally {
      db.close()
    }
  })

  it('reports the host facts', async () => {
    const { status, body } = await api('/host')
    expect(status).toBe(200)
    const facts = body as { root: boolean; landlockAbi: number; seccompNotify: boolean; cgroups: { layout: string } }
    expect(facts.root).toBe(true)
    expect(facts.landlockAbi).toBeGreaterThanOrEqual(1)
    expect(facts.seccompNotify).toBe(true)
    expect(facts.cgroups.layout).not.toBe('none')
  })

  it('serves tokens inside the identity sandbox', async () => {
    const { body } = await api('/services/identity')
    const identity = body as ServiceStatus
    await waitFor('port 50001 in LISTEN', 15_000, async () => (listensOn(identity.pid!, 50001) ? true : null))
    expect(listensOn(process.pid, 50001)).toBe(false)

    const issued = JSON.parse(fetchInside(identity.pid!, 'POST', 'http://127.0.0.1:50001/token')) as { token: string }
    expect(issued.token).toMatch(/^[A-Za-z0-9_-]{32}$/)
    const verified = JSON.parse(fetchInside(identity.pid!, 'GET', `http://127.0.0.1:50001/verify?token=${issued.token}`)) as {
      valid: boolean
    }
    expect(verified.valid).toBe(true)
  })

  it('keeps storage values across a restart', async () => {
    const before = (await api('/services/storage')).body as ServiceStatus
    await waitFor('port 50002 in LISTEN', 15_000, async () => (listensOn(before.pid!, 50002) ? true : null))
    expect(fetchInside(before.pid!, 'PUT', 'http://127.0.0.1:50002/kv/greeting', 'kept')).toBe('')

    const stopped = await api('/services/storage/stop', { method: 'POST' })
    expect((stopped.body as { service: ServiceStatus }).service.state).toBe('stopped')
    const started = await api('/services/storage/start', { method: 'POST' })
    const after = (started.body as { service: ServiceStatus }).service
    expect(after.state).toBe('running')
    expect(after.pid).not.toBe(before.pid)
    servicePids.add(after.pid!)

    await waitFor('port 50002 in LISTEN again', 15_000, async () => (listensOn(after.pid!, 50002) ? true : null))
    expect(fetchInside(after.pid!, 'GET', 'http://127.0.0.1:50002/kv/greeting')).toBe('kept')
  })

  it('streams metrics and the terminate event', async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/api/v1/stream`)
    const messages: { type: string; [key: string]: unknown }[] = []
    socket.on('message', (data) => messages.push(JSON.parse(String(data))))
    await new Promise((resolve, reject) => {
      socket.once('open', resolve)
      socket.once('error', reject)
    })
    socket.send(JSON.stringify({ type: 'auth', token: TOKEN }))
    try {
      const hello = await waitFor('hello', 5_000, async () => messages.find((message) => message.type === 'hello') ?? null)
      expect((hello.services as ServiceStatus[]).length).toBe(2)

      const metrics = await waitFor('metrics with both services', 10_000, async () => {
        const found = messages.find(
          (message) => message.type === 'metrics' && (message.samples as { service: string }[]).length === 2,
        )
        return found ?? null
      })
      const samples = metrics.samples as { service: string; memoryBytes: number; pids: number }[]
      expect(samples.map((sample) => sample.service).sort()).toEqual(SERVICES)
      for (const sample of samples) {
        expect(sample.memoryBytes).toBeGreaterThan(0)
        expect(sample.pids).toBeGreaterThanOrEqual(1)
      }

      const { status, body } = await api('/services/identity/terminate?graceMs=2000', { method: 'POST' })
      expect(status).toBe(200)
      expect((body as { service: ServiceStatus }).service.state).toBe('stopped')
      expect((body as { service: ServiceStatus }).service.pid).toBeNull()

      const event = await waitFor('SERVICE_TERMINATED event', 5_000, async () => {
        const found = messages.find(
          (message) => message.type === 'event' && (message.event as { type: string }).type === 'SERVICE_TERMINATED',
        )
        return found ? (found.event as { service: string; actor: string }) : null
      })
      expect(event.service).toBe('identity')
      expect(event.actor).toBe('token:admin')
      const change = messages.find(
        (message) =>
          message.type === 'service' &&
          (message.service as ServiceStatus).name === 'identity' &&
          (message.service as ServiceStatus).state === 'stopped',
      )
      expect(change).toBeDefined()
    } finally {
      socket.close()
    }
    const { body } = await api('/events?type=SERVICE_TERMINATED')
    expect((body as { service: string }[])[0]?.service).toBe('identity')
  })

  it('keeps a per-second resource history', async () => {
    const history = await waitFor('storage history samples', 10_000, async () => {
      const { body } = await api('/services/storage/history')
      const range = body as { resolution: string; samples: { service: string; memoryBytes: number }[] }
      return range.samples.length >= 2 ? range : null
    })
    expect(history.resolution).toBe('second')
    expect(history.samples.every((sample) => sample.service === 'storage')).toBe(true)
    expect(history.samples.at(-1)!.memoryBytes).toBeGreaterThan(0)
  })

  it('stops everything on SIGTERM', async () => {
    child.kill('SIGTERM')
    const result = await Promise.race([exit, new Promise<null>((resolve) => setTimeout(() => resolve(null), 30_000))])
    expect(result).not.toBeNull()
    expect(result!.code).toBe(0)
    expect(output).toContain('Blackhole stopped')

    for (const pid of servicePids) expect(existsSync(`/proc/${pid}`)).toBe(false)
    expect(leftoverCgroups()).toEqual([])

    const db = new Database(join(dataDir, 'blackhole.db'), { readonly: true })
    try {
      const last = db.prepare('SELECT type, actor FROM AuditEvent ORDER BY seq DESC LIMIT 1').get() as { type: string; actor: string }
      expect(last.type).toBe('SUPERVISOR_STOPPED')
      expect(last.actor).toBe('supervisor')
    } finally {
      db.close()
    }
  })
})
