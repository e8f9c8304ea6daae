// Listening sockets and connections of each sandbox, read every interval
// from /proc/PID/net of the service's main pid, which shows the sandbox's
// own network namespace. Polling misses a connection that opens and closes
// within one interval; the seccomp connect and bind notifications cover those.

import { readFileSync } from 'node:fs'
import { quietMonitorLogger, RecordGate, type Monitor, type MonitorLogger, type MonitorStats, type RecordFn } from './common.js'
import { parseInetTable, parseUnixTable, type InetSocket, type Protocol, type UnixSocket } from './proc-net.js'
import { ServiceResolver, type ServiceSource } from './services.js'

export interface Listener {
  protocol: Protocol
  /** IP address, or the socket path for unix. */
  address: string
  /** 0 for unix. */
  port: number
  inode: number
}

export interface Connection {
  protocol: Protocol
  localAddress: string
  localPort: number
  /** Empty for unix, whose peer /proc/net/unix does not show. */
  remoteAddress: string
  remotePort: number
  state: string
  inode: number
}

export interface NetworkSnapshot {
  service: string
  pid: number
  /** Milliseconds since the epoch of the read. */
  time: number
  listeners: Listener[]
  connections: Connection[]
}

export interface NetworkMonitorOptions {
  record: RecordFn
  services: ServiceSource | ServiceResolver
  logger?: MonitorLogger
  /** Milliseconds between reads (default 1000). */
  intervalMs?: number
  /** Records per service per second before further changes are only counted (default 50). */
  maxRecordsPerSecond?: number
  /** Sockets kept per service and kind; more are counted as dropped (default 4096). */
  maxSockets?: number
}

interface ServiceNetwork {
  pid: number
  time: number
  listeners: Map<string, Listener>
  connections: Map<string, Connection>
}

const INET_TABLES: InetSocket['protocol'][] = ['tcp', 'tcp6', 'udp', 'udp6']

/** Reads the socket tables of a pid; returns null when the pid is gone. */
export function readSockets(pid: number): { inet: InetSocket[]; unix: UnixSocket[] } | null {
  const inet: InetSocket[] = []
  try {
    for (const protocol of INET_TABLES) {
      let text: string
      try {
        text = readFileSync(`/proc/${pid}/net/${protocol}`, 'utf8')
      } catch (error) {
        // A kernel without IPv6 has no tcp6 and udp6 tables.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT' && protocol.endsWith('6')) continue
        throw error
      }
      inet.push(...parseInetTable(text, protocol))
    }
    return { inet, unix: parseUnixTable(readFileSync(`/proc/${pid}/net/unix`, 'utf8')) }
  } catch {
    return null
  }
}

/**
 * Splits sockets into listeners (TCP LISTEN, bound unconnected UDP,
 * listening unix sockets) and connections (established TCP, connected UDP,
 * connected unix sockets with a path).
 */
export function classifySockets(inet: InetSocket[], unix: UnixSocket[]): { listeners: Listener[]; connections: Connection[] } {
  const listeners: Listener[] = []
  const connections: Connection[] = []
  for (const socket of inet) {
    const udp = socket.protocol === 'udp' || socket.protocol === 'udp6'
    // An unconnected UDP socket has state CLOSE (7); connect() makes it ESTABLISHED.
    if (socket.state === 'LISTEN' || (udp && socket.state === 'CLOSE' && socket.localPort !== 0)) {
      listeners.push({ protocol: socket.protocol, address: socket.localAddress, port: socket.localPort, inode: socket.inode })
    } else if (socket.state === 'ESTABLISHED') {
      connections.push({
        protocol: socket.protocol, localAddress: socket.localAddress, localPort: socket.localPort,
        remoteAddress: socket.remoteAddress, remotePort: socket.remotePort, state: socket.state, inode: socket.inode,
      })
    }
  }
  for (const socket of unix) {
    if (socket.listening) {
      listeners.push({ protocol: 'unix', address: socket.path, port: 0, inode: socket.inode })
    } else if (socket.connected && socket.path !== '') {
      connections.push({
        protocol: 'unix', localAddress: socket.path, localPort: 0, remoteAddress: '', remotePort: 0,
        state: 'CONNECTED', inode: socket.inode,
      })
    }
  }
  return { listeners, connections }
}

function listenerKey(listener: Listener): string {
  return listener.protocol === 'unix' ? `unix ${listener.address} ${listener.inode}` : `${listener.protocol} ${listener.address} ${listener.port}`
}

function connectionKey(connection: Connection): string {
  if (connection.protocol === 'unix') return `unix ${connection.inode}`
  return `${connection.protocol} ${connection.localAddress} ${connection.localPort} ${connection.remoteAddress} ${connection.remotePort}`
}

function formatEndpoint(protocol: Protocol, address: string, port: number): string {
  if (protocol === 'unix') return address
  return protocol.endsWith('6') && !address.startsWith('::ffff:') ? `[${address}]:${port}` : `${address}:${port}`
}

/** Records NETWORK_LISTEN and NETWORK_CONNECTION when sockets appear, and their *_CLOSED counterparts when they go. */
export class NetworkMonitor implements Monitor {
  private readonly resolver: ServiceResolver
  private readonly gate: RecordGate
  private readonly intervalMs: number
  private readonly maxSockets: number
  private readonly services = new Map<string, ServiceNetwork>()
  private timer: NodeJS.Timeout | null = null

  constructor(options: NetworkMonitorOptions) {
    this.resolver = options.services instanceof ServiceResolver ? options.services : new ServiceResolver(options.services)
    const logger = options.logger ?? quietMonitorLogger
    this.gate = new RecordGate(options.record, logger, options.maxRecordsPerSecond ?? 50)
    this.intervalMs = options.intervalMs ?? 1000
    this.maxSockets = options.maxSockets ?? 4096
  }

  start(): void {
    if (this.timer !== null) return
    this.poll()
    this.timer = setInterval(() => this.poll(), this.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  stats(): MonitorStats {
    return this.gate.stats(true, null, this.timer !== null)
  }

  /** Returns the listeners and connections of the last read, or null for a service not running. */
  snapshot(service: string): NetworkSnapshot | null {
    const state = this.services.get(service)
    if (state === undefined) return null
    return {
      service, pid: state.pid, time: state.time,
      listeners: [...state.listeners.values()], connections: [...state.connections.values()],
    }
  }

  /** Reads every running service's tables once and records the changes; start() calls it each interval. */
  poll(now = Date.now()): void {
    const running = this.resolver.refresh()
    const names = new Set(running.map((service) => service.name))
    for (const name of [...this.services.keys()]) {
      if (!names.has(name)) this.services.delete(name)
    }
    for (const service of running) {
      const sockets = readSockets(service.pid)
      if (sockets === null) continue
      let state = this.services.get(service.name)
      if (state === undefined || state.pid !== service.pid) {
        state = { pid: service.pid, time: now, listeners: new Map(), connections: new Map() }
        this.services.set(service.name, state)
      }
      state.time = now
      const { listeners, connections } = classifySockets(sockets.inet, sockets.unix)
      this.updateListeners(service.name, state, listeners, now)
      this.updateConnections(service.name, state, connections, now)
    }
  }

  private updateListeners(service: string, state: ServiceNetwork, listeners: Listener[], now: number): void {
    const current = new Map<string, Listener>()
    for (const listener of listeners) current.set(listenerKey(listener), listener)
    for (const [key, listener] of state.listeners) {
      if (current.has(key)) continue
      state.listeners.delete(key)
      const endpoint = formatEndpoint(listener.protocol, listener.address, listener.port)
      this.gate.emit({
        service, pid: state.pid, type: 'NETWORK_LISTEN_CLOSED', severity: 'info', actor: 'supervisor',
        description: `${service} stopped listening on ${listener.protocol} ${endpoint}`,
        metadata: { protocol: listener.protocol, address: listener.address, port: listener.port },
      }, now)
    }
    for (const [key, listener] of current) {
      if (state.listeners.has(key)) continue
      if (state.listeners.size >= this.maxSockets) {
        this.gate.drop(service)
        continue
      }
      state.listeners.set(key, listener)
      const endpoint = formatEndpoint(listener.protocol, listener.address, listener.port)
      this.gate.emit({
        service, pid: state.pid, type: 'NETWORK_LISTEN', severity: 'low', actor: 'supervisor',
        description: `${service} listens on ${listener.protocol} ${endpoint}`,
        metadata: { protocol: listener.protocol, address: listener.address, port: listener.port },
      }, now)
    }
  }

  private updateConnections(service: string, state: ServiceNetwork, connections: Connection[], now: number): void {
    const current = new Map<string, Connection>()
    for (const connection of connections) current.set(connectionKey(connection), connection)
    for (const [key, connection] of state.connections) {
      if (current.has(key)) continue
      state.connections.delete(key)
      this.gate.emit({
        service, pid: state.pid, type: 'NETWORK_CONNECTION_CLOSED', severity: 'info', actor: 'supervisor',
        description: `${service} closed ${describeConnection(connection)}`,
        metadata: connectionMetadata(connection),
      }, now)
    }
    for (const [key, connection] of current) {
      if (state.connections.has(key)) continue
      if (state.connections.size >= this.maxSockets) {
        this.gate.drop(service)
        continue
      }
      state.connections.set(key, connection)
      this.gate.emit({
        service, pid: state.pid, type: 'NETWORK_CONNECTION', severity: 'low', actor: 'supervisor',
        description: `${service} has ${describeConnection(connection)}`,
        metadata: connectionMetadata(connection),
      }, now)
    }
  }
}

function describeConnection(connection: Connection): string {
  if (connection.protocol === 'unix') return `a unix connection on ${connection.localAddress}`
  const local = formatEndpoint(connection.protocol, connection.localAddress, connection.localPort)
  const remote = formatEndpoint(connection.protocol, connection.remoteAddress, connection.remotePort)
  return `a ${connection.protocol} connection ${local} -> ${remote}`
}

function connectionMetadata(connection: Connection): Record<string, unknown> {
  return {
    protocol: connection.protocol, localAddress: connection.localAddress, localPort: connection.localPort,
    remoteAddress: connection.remoteAddress, remotePort: connection.remotePort,
  }
}
