// Network mode veth: a veth pair between the host and the sandbox's network
// namespace, one /30 per service from a link-local range, and nftables rules
// that let the service reach only the host end on its allowed ports.
//
// The pair needs no teardown of its own: when the service exits, its
// network namespace dies and the kernel deletes both ends. The supervisor
// still deletes the host end explicitly, because the kernel frees dead
// namespaces asynchronously and a restart must not find the old link.
//
// NOTE: traffic beyond the host (network.outbound) is only allowed by the
// forward rules. The supervisor adds no NAT and never enables ip_forward, so
// reaching those destinations needs the operator's routing.

import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { LaunchError } from '@blackhole/native'
import { applyServiceRules, removeServiceRules } from './firewall.js'

/** Addresses handed out by default: the upper half of the IPv4 link-local range 169.254.0.0/16. */
export const DEFAULT_VETH_RANGE = '169.254.128.0/17'

// Cloud metadata services listen on 169.254.169.254, usually without a
// route of their own, so no subnet may cover that address.
const RESERVED_ADDRESSES = ['169.254.169.254']

const SUBNET_PREFIX = 30
const SANDBOX_IFNAME = 'eth0'

/** One service's veth pair and addresses, stored at `<dataDir>/run/network/<service>.json`. */
export interface VethLease {
  service: string
  /** Host end, such as `bh-web`. */
  hostIfname: string
  /** Sandbox end inside its namespace. */
  sandboxIfname: string
  /** The /30, such as `169.254.128.0/30`. */
  subnet: string
  hostAddress: string
  sandboxAddress: string
  prefix: number
}

export interface VethOptions {
  service: string
  pid: number
  dataDir: string
  /** CIDR the /30 subnets come from; DEFAULT_VETH_RANGE by default. */
  range?: string
  allowedPorts: number[]
  outbound: string[]
}

/**
 * Name of a service's host end: `bh-<service>`, or for names that would
 * exceed the kernel's 15 bytes, `bh-` plus the first 7 characters and 4 hex
 * digits of the name's SHA-256.
 */
export function vethName(service: string): string {
  const plain = `bh-${service}`
  // A link key `<service>.<cgroup parent>` is always hashed, so the name keeps to [a-z0-9-].
  if (plain.length <= 15 && !service.includes('.')) return plain
  const hash = createHash('sha256').update(service).digest('hex').slice(0, 4)
  return `bh-${service.split('.')[0]!.slice(0, 7)}-${hash}`
}

// ---- IPv4 arithmetic ----

export function ipv4ToNumber(address: string): number {
  const parts = address.split('.').map(Number)
  if (parts.length !== 4 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255)) {
    throw new TypeError(`invalid IPv4 address "${address}"`)
  }
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0
}

export function numberToIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.')
}

/** Parses `a.b.c.d/n` (a bare address is /32) into its first address and size. */
export function parseIpv4Cidr(cidr: string): { start: number; size: number; prefix: number } {
  const [address, prefixText] = cidr.split('/')
  const prefix = prefixText === undefined ? 32 : Number(prefixText)
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new TypeError(`invalid prefix length in "${cidr}"`)
  const size = 2 ** (32 - prefix)
  const start = Math.floor(ipv4ToNumber(address!) / size) * size
  return { start, size, prefix }
}

function overlaps(a: { start: number; size: number }, b: { start: number; size: number }): boolean {
  return a.start < b.start + b.size && b.start < a.start + a.size
}

/**
 * Picks the first /30 of range that overlaps none of the used CIDRs and no
 * reserved address, preferring `preferred` when it is still free. Returns
 * null when the range is exhausted.
 */
export function allocateSubnet(range: string, used: string[], preferred: string | null = null): string | null {
  const pool = parseIpv4Cidr(range)
  if (pool.prefix > SUBNET_PREFIX) throw new TypeError(`veth range ${range} is smaller than one /${SUBNET_PREFIX}; use a prefix of at most /${SUBNET_PREFIX}`)
  const taken = [...used, ...RESERVED_ADDRESSES].map(parseIpv4Cidr)
  const free = (start: number) => !taken.some((cidr) => overlaps(cidr, { start, size: 4 }))
  if (preferred !== null) {
    const wanted = parseIpv4Cidr(preferred)
    if (wanted.prefix === SUBNET_PREFIX && overlaps(pool, wanted) && wanted.start >= pool.start && free(wanted.start)) {
      return `${numberToIpv4(wanted.start)}/${SUBNET_PREFIX}`
    }
  }
  for (let start = pool.start; start < pool.start + pool.size; start += 4) {
    if (free(start)) return `${numberToIpv4(start)}/${SUBNET_PREFIX}`
  }
  return null
}

/** Builds the lease for a /30: the host end takes the first usable address, the sandbox the second. */
export function leaseFor(service: string, subnet: string): VethLease {
  const { start } = parseIpv4Cidr(subnet)
  return {
    service,
    hostIfname: vethName(service),
    sandboxIfname: SANDBOX_IFNAME,
    subnet,
    hostAddress: numberToIpv4(start + 1),
    sandboxAddress: numberToIpv4(start + 2),
    prefix: SUBNET_PREFIX,
  }
}

// ---- host state ----

/** IPv4 CIDRs the host already uses: every interface address and route except the default route. */
export function hostIpv4InUse(): string[] {
  const used: string[] = []
  const addresses = JSON.parse(execFileSync('ip', ['-j', '-4', 'addr'], { encoding: 'utf8' })) as {
    addr_info?: { local: string; prefixlen: number }[]
  }[]
  for (const link of addresses) for (const info of link.addr_info ?? []) used.push(`${info.local}/${info.prefixlen}`)
  const routes = JSON.parse(execFileSync('ip', ['-j', '-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' })) as { dst: string }[]
  for (const route of routes) if (route.dst !== 'default' && /^\d/.test(route.dst)) used.push(route.dst)
  return used
}

function leaseDir(dataDir: string): string {
  return join(dataDir, 'run', 'network')
}

export function readLease(dataDir: string, service: string): VethLease | null {
  try {
    return JSON.parse(readFileSync(join(leaseDir(dataDir), `${service}.json`), 'utf8')) as VethLease
  } catch {
    return null
  }
}

/** Subnets in the lease files of other services under dataDir. */
function leasedSubnets(dataDir: string, except: string): string[] {
  let files: string[] = []
  try {
    files = readdirSync(leaseDir(dataDir)).filter((file) => file.endsWith('.json') && file !== `${except}.json`)
  } catch {
    return []
  }
  return files.map((file) => readLease(dataDir, file.slice(0, -'.json'.length))?.subnet).filter((s): s is string => s !== undefined)
}

function writeLease(dataDir: string, lease: VethLease): void {
  mkdirSync(leaseDir(dataDir), { recursive: true, mode: 0o700 })
  writeFileSync(join(leaseDir(dataDir), `${lease.service}.json`), `${JSON.stringify(lease, null, 2)}\n`, { mode: 0o600 })
}

export function linkExists(ifname: string): boolean {
  try {
    execFileSync('ip', ['-o', 'link', 'show', 'dev', ifname], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Deletes a host link if it exists; deleting one end of a veth pair deletes both. */
export function deleteLink(ifname: string): void {
  if (!linkExists(ifname)) return
  try {
    execFileSync('ip', ['link', 'delete', 'dev', ifname], { stdio: ['ignore', 'ignore', 'pipe'] })
  } catch (error) {
    // The kernel may have removed it between the check and the delete.
    if (linkExists(ifname)) throw error
  }
}

function runIp(args: string[], batch: string, step: string, detail: string): void {
  try {
    execFileSync(args[0]!, args.slice(1), { input: batch, stdio: ['pipe', 'ignore', 'pipe'], encoding: 'utf8' })
  } catch (error) {
    const err = error as NodeJS.ErrnoException & { stderr?: string }
    const reason = err.code === 'ENOENT' ? `${args[0]} not found; install iproute2 and util-linux` : (err.stderr ?? err.message).trim()
    throw new LaunchError(step, 5, 'EIO', reason, detail)
  }
}

/**
 * Creates the veth pair for a child waiting in its new network namespace.
 * It deletes a leftover link of the same name, allocates a /30, configures
 * both ends with a default route via the host end, installs the nftables
 * rules and stores the lease. It runs synchronously inside the launcher's
 * beforeRelease hook. On failure it removes what it created and throws a
 * LaunchError.
 */
export function setUpVeth(options: VethOptions): VethLease {
  const { service, pid, dataDir } = options
  const ifname = vethName(service)
  deleteLink(ifname)
  removeServiceRules(ifname)

  const previous = readLease(dataDir, service)
  const used = [...hostIpv4InUse(), ...leasedSubnets(dataDir, service)]
  const range = options.range ?? DEFAULT_VETH_RANGE
  const subnet = allocateSubnet(range, used, previous?.subnet ?? null)
  if (subnet === null) {
    throw new LaunchError('veth', 28, 'ENOSPC', `no free /${SUBNET_PREFIX} left in the veth range`, range, 'Stop a veth service or configure a larger range')
  }
  const lease = leaseFor(service, subnet)
  const cidr = (address: string) => `${address}/${lease.prefix}`
  try {
    runIp(['ip', 'link', 'add', ifname, 'type', 'veth', 'peer', 'name', lease.sandboxIfname, 'netns', String(pid)], '', 'veth', ifname)
    runIp(['ip', '-batch', '-'], `addr add ${cidr(lease.hostAddress)} dev ${ifname}\nlink set ${ifname} up\n`, 'veth host end', ifname)
    const sandboxBatch = [
      `addr add ${cidr(lease.sandboxAddress)} dev ${lease.sandboxIfname}`,
      `link set ${lease.sandboxIfname} up`,
      `route add default via ${lease.hostAddress} dev ${lease.sandboxIfname}`,
      '',
    ].join('\n')
    runIp(['nsenter', `--net=/proc/${pid}/ns/net`, 'ip', '-batch', '-'], sandboxBatch, 'veth sandbox end', `${lease.sandboxIfname} of pid ${pid}`)
    try {
      applyServiceRules({ ifname, hostAddress: lease.hostAddress, allowedPorts: options.allowedPorts, outbound: options.outbound })
    } catch (error) {
      throw new LaunchError('veth firewall', 5, 'EIO', (error as Error).message, ifname)
    }
    writeLease(dataDir, lease)
    return lease
  } catch (error) {
    try {
      deleteLink(ifname)
      removeServiceRules(ifname)
    } catch {
      // The original failure matters more than a failed cleanup.
    }
    throw error
  }
}

/** Removes the host end if still there, the nftables rules and the lease of a service that exited. */
export function tearDownVeth(dataDir: string, service: string, listenPorts: number[] = []): void {
  const ifname = vethName(service)
  deleteLink(ifname)
  removeServiceRules(ifname, listenPorts)
  rmSync(join(leaseDir(dataDir), `${service}.json`), { force: true })
}

/** Sets the host end up or down. */
export function setHostEndUp(service: string, up: boolean): void {
  runIp(['ip', 'link', 'set', vethName(service), up ? 'up' : 'down'], '', 'veth', vethName(service))
}

/**
 * Restores the sandbox end's default route, which the kernel removed when
 * the link went down.
 */
export function restoreSandboxRoute(pid: number, lease: VethLease): void {
  runIp(
    ['nsenter', `--net=/proc/${pid}/ns/net`, 'ip', 'route', 'replace', 'default', 'via', lease.hostAddress, 'dev', lease.sandboxIfname],
    '', 'veth sandbox route', `pid ${pid}`,
  )
}
