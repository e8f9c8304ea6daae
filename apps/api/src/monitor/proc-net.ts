// Parsers for the socket tables in /proc/PID/net (tcp, tcp6, udp, udp6,
// unix). Read through a pid, they list the sockets of that process's
// network namespace.

import { endianness } from 'node:os'

export type Protocol = 'tcp' | 'tcp6' | 'udp' | 'udp6' | 'unix'

export interface InetSocket {
  protocol: Exclude<Protocol, 'unix'>
  localAddress: string
  localPort: number
  remoteAddress: string
  remotePort: number
  /** Kernel TCP state name, such as LISTEN or ESTABLISHED (UDP reuses the same numbers). */
  state: string
  uid: number
  inode: number
}

export interface UnixSocket {
  protocol: 'unix'
  /** Bound path, `@name` for an abstract address, '' when unbound. */
  path: string
  type: 'stream' | 'dgram' | 'seqpacket' | 'unknown'
  listening: boolean
  connected: boolean
  inode: number
}

// include/net/tcp_states.h
const TCP_STATES: Record<number, string> = {
  1: 'ESTABLISHED', 2: 'SYN_SENT', 3: 'SYN_RECV', 4: 'FIN_WAIT1', 5: 'FIN_WAIT2', 6: 'TIME_WAIT',
  7: 'CLOSE', 8: 'CLOSE_WAIT', 9: 'LAST_ACK', 10: 'LISTEN', 11: 'CLOSING', 12: 'NEW_SYN_RECV',
}

const littleEndian = endianness() === 'LE'

// The kernel prints each 32-bit word of the address with %08X, as the CPU
// loads it: on a little-endian CPU the bytes of each word come out reversed.
function wordBytes(hex: string): Buffer {
  const bytes = Buffer.alloc(hex.length / 2)
  for (let i = 0; i < hex.length / 8; i++) {
    const word = parseInt(hex.slice(i * 8, i * 8 + 8), 16) >>> 0
    if (littleEndian) bytes.writeUInt32LE(word, i * 4)
    else bytes.writeUInt32BE(word, i * 4)
  }
  return bytes
}

/** Decodes `0100007F` (IPv4) or a 32-digit IPv6 word dump into the usual text form. */
export function decodeAddress(hex: string): string {
  if (hex.length === 8) return [...wordBytes(hex)].join('.')
  if (hex.length !== 32) throw new Error(`invalid /proc/net address "${hex}": expected 8 or 32 hex digits`)
  const bytes = wordBytes(hex)
  // IPv4-mapped (::ffff:a.b.c.d) stays in its dotted form, as ss prints it.
  if (bytes.subarray(0, 10).every((byte) => byte === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${[...bytes.subarray(12)].join('.')}`
  }
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i))
  return compressIpv6(groups)
}

// RFC 5952: the longest run of two or more zero groups becomes '::'.
function compressIpv6(groups: number[]): string {
  let bestStart = -1
  let bestLength = 0
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== 0) {
      i += 1
      continue
    }
    let end = i
    while (end < groups.length && groups[end] === 0) end += 1
    if (end - i > bestLength && end - i >= 2) {
      bestStart = i
      bestLength = end - i
    }
    i = end
  }
  const hex = groups.map((group) => group.toString(16))
  if (bestStart < 0) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`
}

function splitEndpoint(text: string): { address: string; port: number } {
  const [address, port] = text.split(':')
  if (address === undefined || port === undefined) throw new Error(`invalid /proc/net endpoint "${text}": expected ADDRESS:PORT in hex`)
  return { address: decodeAddress(address), port: parseInt(port, 16) }
}

/** Parses /proc/net/tcp, tcp6, udp or udp6; the header line and malformed lines are skipped. */
export function parseInetTable(text: string, protocol: InetSocket['protocol']): InetSocket[] {
  const sockets: InetSocket[] = []
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/)
    if (fields.length < 10) continue
    try {
      const local = splitEndpoint(fields[1]!)
      const remote = splitEndpoint(fields[2]!)
      const state = parseInt(fields[3]!, 16)
      sockets.push({
        protocol,
        localAddress: local.address,
        localPort: local.port,
        remoteAddress: remote.address,
        remotePort: remote.port,
        state: TCP_STATES[state] ?? `UNKNOWN_${state}`,
        uid: Number(fields[7]),
        inode: Number(fields[9]),
      })
    } catch {
      // A line cut short by a concurrent change of the table.
    }
  }
  return sockets
}

const SO_ACCEPTCON = 0x10000
// include/linux/net.h: SS_CONNECTED
const SS_CONNECTED = 3
const UNIX_TYPES: Record<number, UnixSocket['type']> = { 1: 'stream', 2: 'dgram', 5: 'seqpacket' }

/** Parses /proc/net/unix: `Num RefCount Protocol Flags Type St Inode Path`. */
export function parseUnixTable(text: string): UnixSocket[] {
  const sockets: UnixSocket[] = []
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/)
    if (fields.length < 7) continue
    const flags = parseInt(fields[3]!, 16)
    const type = parseInt(fields[4]!, 16)
    const state = parseInt(fields[5]!, 16)
    // The path is the rest of the line: it may contain spaces.
    const pathStart = nthFieldOffset(line, 7)
    sockets.push({
      protocol: 'unix',
      path: pathStart < 0 ? '' : line.slice(pathStart).trimEnd(),
      type: UNIX_TYPES[type] ?? 'unknown',
      listening: (flags & SO_ACCEPTCON) !== 0,
      connected: state === SS_CONNECTED,
      inode: Number(fields[6]),
    })
  }
  return sockets
}

function nthFieldOffset(line: string, n: number): number {
  const pattern = /\S+/g
  let match: RegExpExecArray | null
  let index = 0
  while ((match = pattern.exec(line)) !== null) {
    if (index === n) return match.index
    index += 1
  }
  return -1
}
