// The control socket of one service: a unix stream socket the supervisor
// listens on at `<dataDir>/control/<service>/control.sock`, bound read-only
// into the sandbox at /run/blackhole-control. Every connection is checked
// with SO_PEERCRED, and only the service's own uid with a pid in the
// service's cgroup may talk. Accepted peers send newline-separated
// sd_notify-style assignments: READY=1, STATUS=..., WATCHDOG=1 and
// STOPPING=1. Other assignments are ignored.
//
// NOTE: the seccomp filter denies AF_UNIX sockets unless the profile sets
// network.allow_unix_sockets, so only such services can connect.

import { chmodSync, chownSync, mkdirSync, rmSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { peerCredentials, type PeerCredentials } from '@blackhole/native'

export const CONTROL_SOCKET_NAME = 'control.sock'

// Bounds on what one service can make the supervisor hold.
const MAX_LINE_BYTES = 4096
const MAX_CONNECTIONS = 16

export interface ControlHandlers {
  onReady(peer: PeerCredentials): void
  onStatus(text: string, peer: PeerCredentials): void
  onWatchdog(peer: PeerCredentials): void
  onStopping(peer: PeerCredentials): void
  /** A connection that failed the peer check; the socket is already closed. */
  onRejected(peer: PeerCredentials | null, reason: string): void
}

export interface ControlSocketOptions {
  dataDir: string
  service: string
  uid: number
  gid: number
  /** Whether a pid (in the supervisor's PID namespace) belongs to the service, for example by its cgroup. */
  isServiceProcess(pid: number): boolean
  handlers: ControlHandlers
}

/** Host folder of a service's control socket, the source of the read-only bind mount. */
export function controlDir(dataDir: string, service: string): string {
  return join(dataDir, 'control', service)
}

/**
 * Parses one line from a peer. Returns the assignment as key and value, or
 * null for a line that is not KEY=VALUE.
 */
export function parseControlLine(line: string): { key: string; value: string } | null {
  const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.replace(/\r$/, ''))
  return match === null ? null : { key: match[1]!, value: match[2]! }
}

export class ControlSocket {
  readonly dir: string
  readonly path: string
  readonly #server: Server
  readonly #options: ControlSocketOptions
  readonly #connections = new Set<Socket>()

  private constructor(options: ControlSocketOptions, server: Server) {
    this.#options = options
    this.#server = server
    this.dir = controlDir(options.dataDir, options.service)
    this.path = join(this.dir, CONTROL_SOCKET_NAME)
  }

  /**
   * Creates the folder (0750 root:gid), listens on the socket and sets it to
   * 0600 owned by the service's uid, which connect(2) needs write access for.
   */
  static async open(options: ControlSocketOptions): Promise<ControlSocket> {
    const server = createServer()
    const control = new ControlSocket(options, server)
    mkdirSync(control.dir, { recursive: true, mode: 0o750 })
    chownSync(control.dir, 0, options.gid)
    chmodSync(control.dir, 0o750)
    rmSync(control.path, { force: true })
    server.on('connection', (socket) => control.#accept(socket))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(control.path, () => {
        server.off('error', reject)
        resolve()
      })
    })
    try {
      chownSync(control.path, options.uid, options.gid)
      chmodSync(control.path, 0o600)
    } catch (error) {
      await control.close()
      throw error
    }
    return control
  }

  #accept(socket: Socket): void {
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd
    let peer: PeerCredentials | null = null
    let reason: string | null = null
    if (typeof fd !== 'number' || fd < 0) {
      reason = 'the connection has no descriptor to read SO_PEERCRED from'
    } else {
      try {
        peer = peerCredentials(fd)
      } catch (error) {
        reason = `SO_PEERCRED failed: ${(error as Error).message}`
      }
    }
    if (peer !== null && peer.uid !== this.#options.uid) {
      reason = `uid ${peer.uid} is not the service's uid ${this.#options.uid}`
    } else if (peer !== null && !this.#options.isServiceProcess(peer.pid)) {
      reason = `pid ${peer.pid} is not in the service's cgroup`
    } else if (peer !== null && this.#connections.size >= MAX_CONNECTIONS) {
      reason = `more than ${MAX_CONNECTIONS} open connections`
    }
    if (reason !== null || peer === null) {
      socket.destroy()
      this.#options.handlers.onRejected(peer, reason ?? 'unknown peer')
      return
    }
    this.#connections.add(socket)
    socket.on('close', () => this.#connections.delete(socket))
    socket.on('error', () => socket.destroy())
    this.#read(socket, peer)
  }

  #read(socket: Socket, peer: PeerCredentials): void {
    let pending = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      pending += chunk
      const lines = pending.split('\n')
      pending = lines.pop()!
      for (const line of lines) this.#handle(line, peer)
      if (Buffer.byteLength(pending) > MAX_LINE_BYTES) socket.destroy()
    })
    // A last line without a newline still counts, as sd_notify sends none.
    socket.on('end', () => {
      if (pending !== '') this.#handle(pending, peer)
      pending = ''
      socket.end()
    })
  }

  #handle(line: string, peer: PeerCredentials): void {
    if (Buffer.byteLength(line) > MAX_LINE_BYTES) return
    const assignment = parseControlLine(line)
    if (assignment === null) return
    const { handlers } = this.#options
    if (assignment.key === 'READY' && assignment.value === '1') handlers.onReady(peer)
    else if (assignment.key === 'STATUS') handlers.onStatus(assignment.value, peer)
    else if (assignment.key === 'WATCHDOG' && assignment.value === '1') handlers.onWatchdog(peer)
    else if (assignment.key === 'STOPPING' && assignment.value === '1') handlers.onStopping(peer)
  }

  /** Closes every connection and the listener, and removes the socket file and its folder. */
  async close(): Promise<void> {
    for (const socket of this.#connections) socket.destroy()
    this.#connections.clear()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
    rmSync(this.dir, { recursive: true, force: true })
  }
}
