// Network mode veth with real links, namespaces and nftables: the pair and
// its addresses, what the firewall lets through, block and unblock, and the
// teardown. Every test checks that no veth, nft table, cgroup or process is
// left behind.

import { execFile, execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, rmdirSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { parseConfig, type Config } from '@blackhole/policy'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { detectLayout } from '../../src/sandbox/cgroups.js'
import { chainNames, listTable } from '../../src/sandbox/firewall.js'
import { runInSandbox } from '../../src/sandbox/run.js'
import { Supervisor } from '../../src/sandbox/supervisor.js'
import { readLease, vethName } from '../../src/sandbox/veth.js'
import type { AuditInput } from '../../src/types.js'

const cgroupRoot = `blackhole-nettest-${process.pid}`
// A supervisor under its own cgroup parent names its links after `<service>.<parent>`.
const WEB_KEY = `netweb.${cgroupRoot}`
const PEER_KEY = `netpeer.${cgroupRoot}`
const WEB = vethName(WEB_KEY)
const PEER = vethName(PEER_KEY)
const WEB_CHAIN = chainNames(WEB)
const PEER_ID = PEER.replaceAll('-', '_')
const layout = detectLayout()
const SERVICE_PORT = 18080
const HOST_ALLOWED_PORT = 18081
const HOST_DENIED_PORT = 18082

// Listens on SERVICE_PORT, tries the host end on both host ports, prints
// what happened and then replies to every connection with one line.
const serviceScript = `
import socket, struct, sys
def gateway():
    for line in open('/proc/net/route').read().splitlines()[1:]:
        f = line.split()
        if f[1] == '00000000':
            return socket.inet_ntoa(struct.pack('<I', int(f[2], 16)))
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(('0.0.0.0', ${SERVICE_PORT}))
srv.listen(8)
gw = gateway()
print('gateway', gw, flush=True)
for port in (${HOST_ALLOWED_PORT}, ${HOST_DENIED_PORT}):
    try:
        c = socket.create_connection((gw, port), timeout=2)
        print('connect', port, 'ok', c.recv(64).decode().strip(), flush=True)
        c.close()
    except OSError as e:
        print('connect', port, 'failed', e.errno, flush=True)
while True:
    c, _ = srv.accept()
    c.sendall(b'hello from the sandbox\\n')
    c.close()
`

function configText(): string {
  return `
security_profiles:
  bridged:
    network:
      mode: veth
      allowed_ports: [${SERVICE_PORT}, ${HOST_ALLOWED_PORT}]
      outbound: [192.0.2.0/24]
    resource_limits:
      max_memory: 256MiB
  shared:
    network:
      mode: host
    resource_limits:
      max_memory: 256MiB
services:
  netweb:
    profile: bridged
    command: /usr/bin/python3
    args: ['-c', ${JSON.stringify(serviceScript)}]
    autostart: false
  netpeer:
    profile: bridged
    command: /bin/sleep
    args: ['30']
    autostart: false
  a-service-with-a-long-name:
    profile: bridged
    command: /bin/sleep
    args: ['30']
    autostart: false
  hostnet:
    profile: shared
    command: /bin/sleep
    args: ['30']
    autostart: false
`
}

let config: Config
let dataDir: string
let events: AuditInput[]
let supervisor: Supervisor
let linksBefore: string[]
let hostServers: Server[] = []

function links(): string[] {
  // Only names: counters and flags of other links change between two reads.
  return execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split(':')[1]!.trim().split('@')[0]!)
    .sort()
}

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
    return execFileSync('cat', [join(dataDir, 'logs', `${name}.log`)], { encoding: 'utf8' })
  } catch {
    return ''
  }
}

const execFileAsync = promisify(execFile)

// Both connect helpers run their client asynchronously: the host servers
// live in this process, so a blocking spawn would stop them from replying.

/** Connects from inside the sandbox's network namespace as root, outside its other restrictions. */
async function connectFromSandboxNetns(pid: number, address: string, port: number): Promise<string> {
  const script = `
import socket
try:
    c = socket.create_connection(('${address}', ${port}), timeout=1.5)
    print('ok', c.recv(64).decode().strip())
except OSError as e:
    print('failed', type(e).__name__)
`
  const result = await execFileAsync('nsenter', [`--net=/proc/${pid}/ns/net`, '/usr/bin/python3', '-c', script], { timeout: 10_000 })
  return result.stdout.trim()
}

/** Connects from the host and returns the first line the peer sends, or the error. */
async function connectFromHost(address: string, port: number): Promise<string> {
  const script = `
import socket
try:
    c = socket.create_connection(('${address}', ${port}), timeout=1.5)
    print('ok', c.recv(64).decode().strip())
except OSError as e:
    print('failed', type(e).__name__)
`
  return (await execFileAsync('/usr/bin/python3', ['-c', script], { timeout: 10_000 })).stdout.trim()
}

async function listenOnHost(port: number, reply: string): Promise<void> {
  const server = createServer((socket) => socket.end(`${reply}\n`))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '0.0.0.0', () => resolve())
  })
  hostServers.push(server)
}

function sandboxRoutes(pid: number): string {
  return execFileSync('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', '-4', 'route'], { encoding: 'utf8' })
}

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('the kernel tests need root')
  const parsed = parseConfig(configText(), join(tmpdir(), 'network-veth-test.yaml'))
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
  linksBefore = links()
  dataDir = mkdtempSync(join(tmpdir(), 'network-veth-test-'))
  events = []
  supervisor = new Supervisor({
    config,
    configPath: join(tmpdir(), 'network-veth-test.yaml'),
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
  for (const server of hostServers) await new Promise((resolve) => server.close(resolve))
  hostServers = []
  // Clean up by hand first, so a failed assertion below leaves nothing behind.
  const leftover = links().filter((link) => !linksBefore.includes(link))
  for (const link of leftover) spawnSync('ip', ['link', 'delete', 'dev', link])
  const table = listTable()
  if (table !== '') spawnSync('nft', ['delete', 'table', 'inet', 'blackhole'])
  rmSync(dataDir, { recursive: true, force: true })
  expect(leftover).toEqual([])
  expect(table).toBe('')
})

describe('network mode veth', () => {
  it('creates the pair with addresses and a default route', async () => {
    const status = await supervisor.start('netweb', 'test')
    expect(status.state).toBe('running')
    const lease = readLease(dataDir, WEB_KEY)!
    expect(lease).not.toBeNull()
    expect(lease.hostIfname).toBe(WEB)
    expect(lease.subnet).toMatch(/^169\.254\.(1[2-9][0-9]|2[0-5][0-9])\.\d+\/30$/)
    const hostLink = execFileSync('ip', ['-o', '-4', 'addr', 'show', 'dev', WEB], { encoding: 'utf8' })
    expect(hostLink).toContain(`inet ${lease.hostAddress}/30`)
    const sandboxAddr = execFileSync('nsenter', [`--net=/proc/${status.pid}/ns/net`, 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8' })
    expect(sandboxAddr).toContain(`inet ${lease.sandboxAddress}/30`)
    expect(sandboxRoutes(status.pid!)).toContain(`default via ${lease.hostAddress} dev eth0`)
    const started = events.find((e) => e.type === 'SERVICE_STARTED')!
    expect(started.metadata?.veth).toEqual({ ifname: WEB, host: lease.hostAddress, sandbox: lease.sandboxAddress })
    expect(events.filter((e) => e.type === 'PROFILE_WARNING' && String(e.description).includes('veth'))).toEqual([])
  })

  it('installs nftables rules for the allowed ports and outbound CIDRs', async () => {
    await supervisor.start('netweb', 'test')
    const table = listTable()
    expect(table).toContain(`"${WEB}" : jump ${WEB_CHAIN.input}`)
    const lease = readLease(dataDir, WEB_KEY)!
    expect(table).toMatch(new RegExp(`chain ${WEB_CHAIN.input} \\{\\s+ct state established,related accept\\s+ip daddr ${lease.hostAddress.replaceAll('.', '\\.')} tcp dport \\{ ${SERVICE_PORT}, ${HOST_ALLOWED_PORT} \\} accept\\s+drop`))
    expect(table).toMatch(new RegExp(`chain ${WEB_CHAIN.from} \\{\\s+ip daddr 192\\.0\\.2\\.0\\/24 accept\\s+drop`))
    expect(table).not.toContain('nat')
    expect(execFileSync('sysctl', ['-n', 'net.ipv4.ip_forward'], { encoding: 'utf8' }).trim()).toBe('0')
  })

  it('lets the sandbox reach only the allowed host ports', async () => {
    await listenOnHost(HOST_ALLOWED_PORT, 'allowed port')
    await listenOnHost(HOST_DENIED_PORT, 'denied port')
    const status = await supervisor.start('netweb', 'test')
    const lease = readLease(dataDir, WEB_KEY)!
    const log = await waitFor(() => (serviceLog('netweb').includes(`connect ${HOST_DENIED_PORT}`) ? serviceLog('netweb') : null), 'the service log')
    expect(log).toContain(`gateway ${lease.hostAddress}`)
    expect(log).toContain(`connect ${HOST_ALLOWED_PORT} ok allowed port`)
    // The service's own attempt stops at Landlock (EACCES = 13) ...
    expect(log).toContain(`connect ${HOST_DENIED_PORT} failed 13`)
    // ... and without Landlock the firewall drops it.
    expect(await connectFromSandboxNetns(status.pid!, lease.hostAddress, HOST_ALLOWED_PORT)).toBe('ok allowed port')
    expect(await connectFromSandboxNetns(status.pid!, lease.hostAddress, HOST_DENIED_PORT)).toBe('failed TimeoutError')
  })

  it('drops other host addresses on allowed ports', async () => {
    await listenOnHost(HOST_ALLOWED_PORT, 'allowed port')
    const status = await supervisor.start('netpeer', 'test')
    const lease = readLease(dataDir, PEER_KEY)!
    // A second host address, on the test's own link, represents every host address but the host end.
    execFileSync('ip', ['addr', 'add', '169.254.127.1/32', 'dev', lease.hostIfname])
    expect(await connectFromSandboxNetns(status.pid!, lease.hostAddress, HOST_ALLOWED_PORT)).toBe('ok allowed port')
    expect(await connectFromSandboxNetns(status.pid!, '169.254.127.1', HOST_ALLOWED_PORT)).toBe('failed TimeoutError')
  })

  it('lets the host reach the service on the sandbox address', async () => {
    await supervisor.start('netweb', 'test')
    const lease = readLease(dataDir, WEB_KEY)!
    await waitFor(() => serviceLog('netweb').includes(`connect ${HOST_DENIED_PORT}`), 'the service to listen')
    expect(await connectFromHost(lease.sandboxAddress, SERVICE_PORT)).toBe('ok hello from the sandbox')
  })

  it('removes the pair, rules and lease when the service stops', async () => {
    const status = await supervisor.start('netweb', 'test')
    expect(links()).toContain(WEB)
    await supervisor.stop('netweb', 'test')
    expect(links()).not.toContain(WEB)
    expect(links()).toEqual(linksBefore)
    expect(listTable()).toBe('')
    expect(readLease(dataDir, WEB_KEY)).toBeNull()
    expect(existsSync(`/proc/${status.pid}`)).toBe(false)
  })

  it('gives two services separate subnets', async () => {
    await supervisor.start('netweb', 'test')
    await supervisor.start('netpeer', 'test')
    const first = readLease(dataDir, WEB_KEY)!
    const second = readLease(dataDir, PEER_KEY)!
    expect(first.subnet).not.toBe(second.subnet)
    expect(links()).toContain(PEER)
    await supervisor.stop('netpeer', 'test')
    expect(links()).not.toContain(PEER)
    expect(listTable()).toContain(WEB_CHAIN.input)
    expect(listTable()).not.toContain(PEER_ID)
  })

  it('shortens a long service name to a valid interface name', async () => {
    await supervisor.start('a-service-with-a-long-name', 'test')
    const name = vethName(`a-service-with-a-long-name.${cgroupRoot}`)
    expect(name).toMatch(/^bh-a-servi-[0-9a-f]{4}$/)
    expect(links()).toContain(name)
  })

  it('replaces a leftover link of the same name', async () => {
    execFileSync('ip', ['link', 'add', PEER, 'type', 'veth', 'peer', 'name', 'bh-np-old'])
    try {
      const status = await supervisor.start('netpeer', 'test')
      expect(status.state).toBe('running')
      const detail = execFileSync('ip', ['-d', '-o', 'link', 'show', 'dev', PEER], { encoding: 'utf8' })
      expect(detail).toContain('veth')
      // The new pair's peer lives in the sandbox, so the old peer went with the old link.
      expect(links()).not.toContain('bh-np-old')
    } finally {
      spawnSync('ip', ['link', 'delete', 'dev', PEER])
    }
  })

  it('cuts and restores the veth on block and unblock', async () => {
    await listenOnHost(HOST_ALLOWED_PORT, 'allowed port')
    const status = await supervisor.start('netweb', 'test')
    const lease = readLease(dataDir, WEB_KEY)!
    expect(await connectFromSandboxNetns(status.pid!, lease.hostAddress, HOST_ALLOWED_PORT)).toBe('ok allowed port')

    const blocked = await supervisor.block('netweb', 'test', 'veth test')
    expect(blocked.blocked).toBe(true)
    expect(execFileSync('ip', ['-o', 'link', 'show', 'dev', WEB], { encoding: 'utf8' })).not.toMatch(/[<,]UP[,>]/)
    expect(listTable()).toMatch(new RegExp(`set blocked_ifaces \\{[^}]*elements = \\{ "${WEB}" \\}`))
    expect(await connectFromSandboxNetns(status.pid!, lease.hostAddress, HOST_ALLOWED_PORT)).toMatch(/^failed /)

    const unblocked = await supervisor.unblock('netweb', 'test')
    expect(unblocked.blocked).toBe(false)
    expect(execFileSync('ip', ['-o', 'link', 'show', 'dev', WEB], { encoding: 'utf8' })).toMatch(/[<,]UP[,>]/)
    expect(listTable()).not.toContain(`"${WEB}" }`)
    expect(sandboxRoutes(status.pid!)).toContain(`default via ${lease.hostAddress} dev eth0`)
    expect(await connectFromSandboxNetns(status.pid!, lease.hostAddress, HOST_ALLOWED_PORT)).toBe('ok allowed port')
  })

  it('cuts the veth while isolated and restores it on resume', async () => {
    await listenOnHost(HOST_ALLOWED_PORT, 'allowed port')
    const status = await supervisor.start('netpeer', 'test')
    const lease = readLease(dataDir, PEER_KEY)!
    await supervisor.isolate('netpeer', 'test', 'veth test')
    expect(await connectFromSandboxNetns(status.pid!, lease.hostAddress, HOST_ALLOWED_PORT)).toMatch(/^failed /)
    await supervisor.resume('netpeer', 'test')
    expect(await connectFromSandboxNetns(status.pid!, lease.hostAddress, HOST_ALLOWED_PORT)).toBe('ok allowed port')
  })
})

describe('blackhole run with veth', () => {
  it('sets up a default route and removes the pair', async () => {
    const status = await runInSandbox({
      config,
      configPath: join(tmpdir(), 'network-veth-test.yaml'),
      profileName: 'bridged',
      // Exits 0 only when eth0 carries the default route (destination 00000000).
      argv: ['/bin/sh', '-c', 'grep -q "^eth0[[:space:]]00000000" /proc/net/route'],
      dataDir,
      cgroupParent: cgroupRoot,
    })
    expect(status).toBe(0)
    expect(links()).toEqual(linksBefore)
    expect(listTable()).toBe('')
    expect(existsSync(join(dataDir, 'control', `run-${process.pid}`))).toBe(false)
  })
})

describe('network mode host', () => {
  it('records a warning and shares the host network', async () => {
    const status = await supervisor.start('hostnet', 'test')
    const warnings = events.filter((e) => e.type === 'PROFILE_WARNING')
    expect(warnings.map((e) => e.description)).toContainEqual(expect.stringContaining('shares the host network'))
    const own = execFileSync('readlink', ['/proc/self/ns/net'], { encoding: 'utf8' })
    const service = execFileSync('readlink', [`/proc/${status.pid}/ns/net`], { encoding: 'utf8' })
    expect(service).toBe(own)
    expect(links()).toEqual(linksBefore)
  })
})
