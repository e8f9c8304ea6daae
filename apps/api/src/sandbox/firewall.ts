// nftables rules for veth sandboxes, in the table `inet blackhole`.
//
// The base chains only dispatch: each service interface maps to its own
// chains through verdict maps, so adding or removing a service touches map
// elements and its own chains, never another service's rules. Blocking adds
// the interface (and the TCP ports of its listen sockets) to sets that the
// base chains drop first.

import { execFileSync } from 'node:child_process'
import { isIP } from 'node:net'

export const NFT_TABLE = 'blackhole'

export interface ServiceRules {
  /** Host end of the veth pair, such as `bh-web`. */
  ifname: string
  /** IPv4 address of the host end, the only host address the service may reach. */
  hostAddress: string
  /** TCP ports on the host that the service may connect to. */
  allowedPorts: number[]
  /** Destinations the service may reach beyond the host, as CIDRs; routing them is the operator's job. */
  outbound: string[]
}

/** Returns the script for the base table, sets, maps and dispatching chains; it flushes the base chains, so running it twice is harmless. */
export function baseScript(): string {
  const t = `inet ${NFT_TABLE}`
  return [
    `add table ${t}`,
    `add map ${t} input_from { type ifname : verdict ; }`,
    `add map ${t} forward_from { type ifname : verdict ; }`,
    `add map ${t} forward_to { type ifname : verdict ; }`,
    `add set ${t} blocked_ifaces { type ifname ; }`,
    `add set ${t} blocked_ports { type inet_service ; }`,
    `add chain ${t} input { type filter hook input priority filter ; policy accept ; }`,
    `add chain ${t} forward { type filter hook forward priority filter ; policy accept ; }`,
    `flush chain ${t} input`,
    `flush chain ${t} forward`,
    `add rule ${t} input iifname @blocked_ifaces drop`,
    `add rule ${t} input tcp dport @blocked_ports drop`,
    `add rule ${t} input iifname vmap @input_from`,
    `add rule ${t} forward iifname @blocked_ifaces drop`,
    `add rule ${t} forward oifname @blocked_ifaces drop`,
    `add rule ${t} forward iifname vmap @forward_from`,
    `add rule ${t} forward oifname vmap @forward_to`,
    '',
  ].join('\n')
}

/** Returns the chain names of one interface. The config accepts only [a-z0-9-] in service names, so mapping `-` to `_` cannot collide. */
export function chainNames(ifname: string): { input: string; from: string; to: string } {
  const id = ifname.replaceAll('-', '_')
  return { input: `in_${id}`, from: `fwd_from_${id}`, to: `fwd_to_${id}` }
}

/**
 * Returns the script for one service interface. From the sandbox, only
 * replies and TCP to the allowed ports of the host end reach the host. Forwarded traffic
 * may leave only to the outbound CIDRs, and may enter only as replies.
 */
export function serviceScript(rules: ServiceRules): string {
  const t = `inet ${NFT_TABLE}`
  const chains = chainNames(rules.ifname)
  const name = JSON.stringify(rules.ifname)
  const lines: string[] = []
  for (const chain of Object.values(chains)) lines.push(`add chain ${t} ${chain}`, `flush chain ${t} ${chain}`)

  lines.push(`add rule ${t} ${chains.input} ct state established,related accept`)
  if (rules.allowedPorts.length > 0) {
    lines.push(`add rule ${t} ${chains.input} ip daddr ${rules.hostAddress} tcp dport { ${rules.allowedPorts.join(', ')} } accept`)
  }
  lines.push(`add rule ${t} ${chains.input} drop`)

  const v4 = rules.outbound.filter((cidr) => isIP(cidr.split('/')[0]!) === 4)
  const v6 = rules.outbound.filter((cidr) => isIP(cidr.split('/')[0]!) === 6)
  if (v4.length > 0) lines.push(`add rule ${t} ${chains.from} ip daddr { ${v4.join(', ')} } accept`)
  if (v6.length > 0) lines.push(`add rule ${t} ${chains.from} ip6 daddr { ${v6.join(', ')} } accept`)
  lines.push(`add rule ${t} ${chains.from} drop`)

  lines.push(`add rule ${t} ${chains.to} ct state established,related accept`, `add rule ${t} ${chains.to} drop`)

  lines.push(
    `add element ${t} input_from { ${name} : jump ${chains.input} }`,
    `add element ${t} forward_from { ${name} : jump ${chains.from} }`,
    `add element ${t} forward_to { ${name} : jump ${chains.to} }`,
    '',
  )
  return lines.join('\n')
}

interface TableState {
  chains: Set<string>
  /** Elements per map or set, as strings (port numbers too). */
  elements: Map<string, Set<string>>
}

function runNft(script: string): void {
  try {
    execFileSync('nft', ['-f', '-'], { input: script, stdio: ['pipe', 'ignore', 'pipe'], encoding: 'utf8' })
  } catch (error) {
    const err = error as NodeJS.ErrnoException & { stderr?: string }
    if (err.code === 'ENOENT') {
      throw new Error('nft not found; install the nftables package (apt-get install nftables)', { cause: error })
    }
    throw new Error(`nft failed: ${(err.stderr ?? err.message).trim()}`, { cause: error })
  }
}

/** Reads which chains and set or map elements exist; null when the table does not. */
function readTable(): TableState | null {
  let text: string
  try {
    text = execFileSync('nft', ['-j', 'list', 'table', 'inet', NFT_TABLE], { stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' })
  } catch {
    return null
  }
  const state: TableState = { chains: new Set(), elements: new Map() }
  const items = (JSON.parse(text) as { nftables: Record<string, unknown>[] }).nftables
  for (const item of items) {
    const chain = item.chain as { name: string } | undefined
    if (chain !== undefined) state.chains.add(chain.name)
    const container = (item.set ?? item.map) as { name: string; elem?: unknown[] } | undefined
    if (container === undefined) continue
    const keys = new Set<string>()
    // A set element is the key itself; a map element is [key, verdict].
    for (const elem of container.elem ?? []) keys.add(String(Array.isArray(elem) ? elem[0] : elem))
    state.elements.set(container.name, keys)
  }
  return state
}

/** Installs (or replaces) the rules of one service interface. */
export function applyServiceRules(rules: ServiceRules): void {
  runNft(baseScript() + serviceScript(rules))
}

/** Removes the rules, map entries and block entries of one interface; missing pieces are skipped. */
export function removeServiceRules(ifname: string, listenPorts: number[] = []): void {
  const state = readTable()
  if (state === null) return
  const t = `inet ${NFT_TABLE}`
  const name = JSON.stringify(ifname)
  const lines: string[] = []
  for (const map of ['input_from', 'forward_from', 'forward_to', 'blocked_ifaces']) {
    if (state.elements.get(map)?.has(ifname)) lines.push(`delete element ${t} ${map} { ${name} }`)
  }
  for (const port of listenPorts) {
    if (state.elements.get('blocked_ports')?.has(String(port))) lines.push(`delete element ${t} blocked_ports { ${port} }`)
  }
  for (const chain of Object.values(chainNames(ifname))) {
    if (state.chains.has(chain)) lines.push(`flush chain ${t} ${chain}`, `delete chain ${t} ${chain}`)
  }
  const ports = listenPorts.map(String)
  runDeletions(state, lines, (container, key) => (container === 'blocked_ports' ? ports.includes(key) : key === ifname))
}

/**
 * Runs the delete commands, or deletes the whole table when nothing but the
 * removed keys is left in it, so an idle host keeps no blackhole rules.
 */
function runDeletions(state: TableState, lines: string[], removed: (container: string, key: string) => boolean): void {
  const others = [...state.elements].some(([container, keys]) => [...keys].some((key) => !removed(container, key)))
  if (!others) runNft(`delete table inet ${NFT_TABLE}\n`)
  else if (lines.length > 0) runNft(`${lines.join('\n')}\n`)
}

/**
 * Drops all traffic of an interface (null for a service without one) and
 * of the TCP ports its listen sockets bound on the host.
 */
export function blockTraffic(ifname: string | null, listenPorts: number[]): void {
  const t = `inet ${NFT_TABLE}`
  const lines: string[] = []
  if (ifname !== null) lines.push(`add element ${t} blocked_ifaces { ${JSON.stringify(ifname)} }`)
  if (listenPorts.length > 0) lines.push(`add element ${t} blocked_ports { ${listenPorts.join(', ')} }`)
  if (lines.length > 0) runNft(baseScript() + `${lines.join('\n')}\n`)
}

/** Undoes blockTraffic; entries already gone are skipped. */
export function unblockTraffic(ifname: string | null, listenPorts: number[]): void {
  const state = readTable()
  if (state === null) return
  const t = `inet ${NFT_TABLE}`
  const lines: string[] = []
  if (ifname !== null && state.elements.get('blocked_ifaces')?.has(ifname)) {
    lines.push(`delete element ${t} blocked_ifaces { ${JSON.stringify(ifname)} }`)
  }
  for (const port of listenPorts) {
    if (state.elements.get('blocked_ports')?.has(String(port))) lines.push(`delete element ${t} blocked_ports { ${port} }`)
  }
  const ports = listenPorts.map(String)
  runDeletions(state, lines, (container, key) =>
    (container === 'blocked_ports' && ports.includes(key)) || (container === 'blocked_ifaces' && key === ifname))
}

/** Lists the table's rules as `nft list table` prints them; empty when the table does not exist. */
export function listTable(): string {
  try {
    return execFileSync('nft', ['list', 'table', 'inet', NFT_TABLE], { stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' })
  } catch {
    return ''
  }
}
