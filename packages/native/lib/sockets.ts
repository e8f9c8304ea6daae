// Listening sockets for socket activation and the peer credentials of unix
// socket connections.

import { isIP } from 'node:net'
import { LaunchError } from './launch-error.js'
import { native, type PeerCredentials } from './native.js'

export type { PeerCredentials } from './native.js'

const DEFAULT_BACKLOG = 128

function raiseListenError(error: unknown, address: string): never {
  const err = error as { code?: string; errno?: number; syscall?: string; message?: string }
  if (typeof err.errno !== 'number') throw error
  const reason = (err.message ?? '').replace(/^.*: ([^:]+) \([A-Z0-9]+\)$/, '$1')
  const hint = err.code === 'EADDRINUSE' ? 'Stop the process that holds this address or pick another port' : ''
  throw new LaunchError('listen socket', err.errno, err.code ?? 'EIO', `${err.syscall ?? 'bind'} failed: ${reason}`, address, hint)
}

/**
 * Creates a TCP socket bound to host:port and listening, with
 * SO_REUSEADDR and close-on-exec. Returns the descriptor, which the caller
 * closes with closeFd. A failure raises a LaunchError naming the address.
 */
export function listenTcp(host: string, port: number, backlog = DEFAULT_BACKLOG): number {
  if (isIP(host) === 0) throw new TypeError(`host must be an IPv4 or IPv6 address, got '${host}'`)
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`port must be an integer from 1 to 65535, got ${port}`)
  const address = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`
  try {
    return native.listenTcp(host, port, backlog)
  } catch (error) {
    raiseListenError(error, address)
  }
}

/**
 * Creates a unix stream socket bound to path and listening, close-on-exec.
 * The file is created with the process umask; set its mode and owner
 * afterwards. A failure raises a LaunchError naming the path.
 */
export function listenUnix(path: string, backlog = DEFAULT_BACKLOG): number {
  if (!path.startsWith('/') || Buffer.byteLength(path) > 107) {
    throw new TypeError(`path must be absolute and at most 107 bytes, got '${path}'`)
  }
  try {
    return native.listenUnix(path, backlog)
  } catch (error) {
    raiseListenError(error, path)
  }
}

/** Reads SO_PEERCRED of a connected unix socket: the peer's pid, uid and gid at connect time. */
export function peerCredentials(fd: number): PeerCredentials {
  if (!Number.isInteger(fd) || fd < 0) throw new TypeError(`fd must be a descriptor number, got ${fd}`)
  return native.peerCredentials(fd)
}
