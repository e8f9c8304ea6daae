// Turns the audit records of a learn session into what the service did:
// syscalls the profile would deny, paths, and TCP ports.

import type { AuditRecord } from '../types.js'

export type PathAccess = 'read' | 'write' | 'create' | 'execute'

/** One path the service used or was denied, with how it used it. */
export interface ObservedPath {
  path: string
  access: PathAccess
  /** True when Landlock denied the access; false when it was only observed. */
  denied: boolean
  /** The record type it came from, such as LANDLOCK_DENIED or SYSCALL_OBSERVED. */
  source: string
}

/** Everything a learn session saw the service do. */
export interface LearnedActivity {
  /** Syscalls the profile would deny (SYSCALL_VIOLATION), with how often each was called. */
  syscalls: Record<string, number>
  paths: ObservedPath[]
  /** TCP ports the service bound, connected to or listened on, sorted. */
  ports: number[]
  /** Number of records read. */
  records: number
}

/** A record as the learn code reads it: the audit record fields it needs. */
export type ActivityRecord = Pick<AuditRecord, 'type' | 'metadata'>

// Landlock access names from the kernel's audit records (blockers=fs.*), by what they mean for a profile.
const LANDLOCK_ACCESS: Record<string, PathAccess> = {
  'fs.execute': 'execute',
  'fs.read_file': 'read',
  'fs.read_dir': 'read',
  'fs.write_file': 'write',
  'fs.truncate': 'write',
  'fs.ioctl_dev': 'write',
  'fs.refer': 'create',
  'fs.remove_dir': 'create',
  'fs.remove_file': 'create',
  'fs.make_char': 'create',
  'fs.make_dir': 'create',
  'fs.make_reg': 'create',
  'fs.make_sock': 'create',
  'fs.make_fifo': 'create',
  'fs.make_block': 'create',
  'fs.make_sym': 'create',
}

// openat flags (asm-generic/fcntl.h): O_ACCMODE and O_CREAT.
const O_ACCMODE = 0o3
const O_CREAT = 0o100

/** Collects syscalls, paths and ports from the records of one service. */
export function collectActivity(records: Iterable<ActivityRecord>): LearnedActivity {
  const syscalls = new Map<string, number>()
  const paths = new Map<string, ObservedPath>()
  const ports = new Set<number>()
  let count = 0
  const addPath = (entry: ObservedPath) => {
    const key = `${entry.path}\0${entry.access}\0${entry.denied}`
    if (!paths.has(key)) paths.set(key, entry)
  }
  const addPort = (value: unknown) => {
    const port = typeof value === 'string' ? Number(value) : value
    if (typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535) ports.add(port)
  }

  for (const record of records) {
    count += 1
    const metadata = record.metadata
    const decoded = (metadata.decoded ?? {}) as { path?: unknown; port?: unknown; family?: unknown }
    const syscall = typeof metadata.syscall === 'string' ? metadata.syscall : null
    switch (record.type) {
      case 'SYSCALL_VIOLATION':
        if (syscall !== null) syscalls.set(syscall, (syscalls.get(syscall) ?? 0) + 1)
        break
      case 'SYSCALL_OBSERVED':
        if ((syscall === 'execve' || syscall === 'execveat') && typeof decoded.path === 'string') {
          addPath({ path: decoded.path, access: 'execute', denied: false, source: record.type })
        } else if ((syscall === 'openat' || syscall === 'open') && typeof decoded.path === 'string') {
          addPath({ path: decoded.path, access: openAccess(metadata.args, syscall), denied: false, source: record.type })
        } else if ((syscall === 'bind' || syscall === 'connect') && isInetFamily(decoded.family)) {
          addPort(decoded.port)
        }
        break
      case 'LANDLOCK_DENIED': {
        const access = Array.isArray(metadata.access) ? metadata.access.filter((item): item is string => typeof item === 'string') : []
        if (typeof metadata.path === 'string') {
          for (const name of access) {
            const kind = LANDLOCK_ACCESS[name]
            if (kind !== undefined) addPath({ path: metadata.path, access: kind, denied: true, source: record.type })
          }
        }
        // Network denials name the port: `src` for bind, `dest` for connect.
        if (access.includes('net.bind_tcp')) addPort(metadata.src)
        if (access.includes('net.connect_tcp')) addPort(metadata.dest)
        break
      }
      case 'NETWORK_LISTEN':
        if (metadata.protocol === 'tcp' || metadata.protocol === 'tcp6') addPort(metadata.port)
        break
      default:
        break
    }
  }
  return {
    syscalls: Object.fromEntries([...syscalls].sort(([a], [b]) => a.localeCompare(b))),
    paths: [...paths.values()].sort((a, b) => a.path.localeCompare(b.path) || a.access.localeCompare(b.access)),
    ports: [...ports].sort((a, b) => a - b),
    records: count,
  }
}

// A family the notifier did not decode counts as inet, since only TCP/UDP ports carry a port number.
function isInetFamily(family: unknown): boolean {
  return family === undefined || family === 'inet' || family === 'inet6' || family === 'AF_INET' || family === 'AF_INET6'
}

/** Reads the access of an openat from its flags argument (the third, a hex or decimal string). */
function openAccess(args: unknown, syscall: string): PathAccess {
  const index = syscall === 'openat' ? 2 : 1
  const raw = Array.isArray(args) ? args[index] : undefined
  const flags = typeof raw === 'string' ? Number(raw) : Number.NaN
  if (!Number.isFinite(flags)) return 'read'
  if (flags & O_CREAT) return 'create'
  return (flags & O_ACCMODE) === 0 ? 'read' : 'write'
}
