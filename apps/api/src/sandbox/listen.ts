// Socket activation: the supervisor binds the sockets a profile lists under
// network.listen and hands them to the service as descriptors 3, 4, ...
// with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES. The supervisor binds as
// root in the host network namespace, so the host reaches the service
// through them and the service needs no CAP_NET_BIND_SERVICE for a port
// below 1024.

import { chmodSync, chownSync, lstatSync, mkdirSync, rmSync, statSync } from 'node:fs'
import { basename, dirname } from 'node:path'
import { closeFd, LaunchError, listenTcp, listenUnix } from '@blackhole/native'
import type { ListenSocket } from '@blackhole/policy'

/** TCP sockets without a host in the profile bind here, so only the host itself reaches them. */
export const DEFAULT_LISTEN_HOST = '127.0.0.1'

// Shared folders that must never become a service's 0750 socket folder.
const SHARED_DIRS = new Set(['/', '/run', '/var/run', '/tmp', '/var/tmp', '/var', '/var/lib', '/srv', '/home', '/etc', '/usr', '/opt', '/dev'])

export interface BoundSocket {
  /** Descriptor in the supervisor, close-on-exec. */
  fd: number
  /** LISTEN_FDNAMES entry. */
  name: string
  kind: 'tcp' | 'unix'
  /** `127.0.0.1:80`, `[::1]:8080` or the unix socket path. */
  address: string
  /** TCP port; null for unix sockets. */
  port: number | null
  /** Socket file to unlink when the service ends; null for TCP. */
  path: string | null
}

/**
 * Binds every listen socket of a profile. Unix sockets get mode 0600 and
 * the service's uid and gid, in a folder set to 0750 root:gid. On a failure
 * the sockets bound so far are closed and a LaunchError names the address.
 */
export function bindListenSockets(listen: ListenSocket[], owner: { uid: number; gid: number }): BoundSocket[] {
  const bound: BoundSocket[] = []
  try {
    for (const socket of listen) bound.push(socket.kind === 'tcp' ? bindTcp(socket) : bindUnix(socket, owner))
  } catch (error) {
    closeListenSockets(bound)
    throw error
  }
  return bound
}

function bindTcp(socket: Extract<ListenSocket, { kind: 'tcp' }>): BoundSocket {
  const host = socket.host ?? DEFAULT_LISTEN_HOST
  const fd = listenTcp(host, socket.port)
  const address = host.includes(':') ? `[${host}]:${socket.port}` : `${host}:${socket.port}`
  return { fd, name: socket.name, kind: 'tcp', address, port: socket.port, path: null }
}

function bindUnix(socket: Extract<ListenSocket, { kind: 'unix' }>, owner: { uid: number; gid: number }): BoundSocket {
  const path = socket.path
  const dir = dirname(path)
  if (SHARED_DIRS.has(dir)) {
    throw new LaunchError(
      'listen socket', 22, 'EINVAL', `the folder ${dir} is shared and cannot become the socket's 0750 folder`, path,
      `Put the socket in a folder of its own, such as ${dir === '/' ? '' : dir}/<service>/${path.slice(dir.length + 1)}`,
    )
  }
  try {
    prepareSocketDir(dir, path, owner.gid)
    removeStaleSocket(path)
  } catch (error) {
    if (error instanceof LaunchError) throw error
    const err = error as NodeJS.ErrnoException
    throw new LaunchError('listen socket', Math.abs(err.errno ?? 5), err.code ?? 'EIO', `failed to prepare the folder ${dir}: ${err.message}`, path)
  }
  const fd = listenUnix(path)
  try {
    chownSync(path, owner.uid, owner.gid)
    chmodSync(path, 0o600)
  } catch (error) {
    closeFd(fd)
    rmSync(path, { force: true })
    const err = error as NodeJS.ErrnoException
    throw new LaunchError('listen socket', Math.abs(err.errno ?? 5), err.code ?? 'EIO', `failed to set the owner and mode: ${err.message}`, path)
  }
  return { fd, name: socket.name, kind: 'unix', address: path, port: null, path }
}

/**
 * Creates the socket's 0750 root:GID folder, or reuses one an earlier run
 * created. An existing folder with any other owner or mode is rejected and
 * left as it is: the supervisor runs as root, so changing it would open or
 * close a host folder on a profile's say-so.
 */
function prepareSocketDir(dir: string, path: string, gid: number): void {
  let existing: ReturnType<typeof lstatSync> | null = null
  try {
    existing = lstatSync(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  if (existing !== null) {
    const ours = existing.isDirectory() && existing.uid === 0 && existing.gid === gid && (existing.mode & 0o7777) === 0o750
    if (ours) return
    throw new LaunchError(
      'listen socket', 17, 'EEXIST',
      `the folder ${dir} already exists and is not a socket folder made for this service (root:${gid}, mode 0750); ` +
        'Blackhole does not change the owner or mode of an existing folder',
      path,
      `Use a path in a folder that does not exist yet, such as ${dir}/${basename(path, '.sock')}/${basename(path)}`,
    )
  }
  mkdirSync(dirname(dir), { recursive: true, mode: 0o755 })
  // Not recursive: a folder someone else creates in the meantime fails with EEXIST instead of being taken over.
  mkdirSync(dir, { mode: 0o750 })
  chownSync(dir, 0, gid)
  chmodSync(dir, 0o750)
}

/** Unlinks a socket file left by an earlier run; any other kind of file is an error. */
function removeStaleSocket(path: string): void {
  let isSocket: boolean
  try {
    isSocket = lstatSync(path).isSocket()
  } catch {
    return
  }
  if (!isSocket) {
    throw new LaunchError('listen socket', 17, 'EEXIST', 'a file that is not a socket is in the way', path, 'Remove it or choose another path')
  }
  rmSync(path)
}

/** Closes the supervisor's copies and unlinks unix socket files; errors are ignored so every socket is tried. */
export function closeListenSockets(bound: BoundSocket[]): void {
  for (const socket of bound) {
    try {
      closeFd(socket.fd)
    } catch {
      // Already closed.
    }
    if (socket.path === null) continue
    try {
      if (statSync(socket.path).isSocket()) rmSync(socket.path)
    } catch {
      // Already gone.
    }
  }
}

/** Returns the LaunchSpec listenFds entries, in the order the service receives them. */
export function listenFdsOf(bound: BoundSocket[]): { fd: number; name: string }[] {
  return bound.map((socket) => ({ fd: socket.fd, name: socket.name }))
}
