// Loads the netlink readers of the native addon (src/monitor_netlink.cc in
// @blackhole/native). The addon is loaded directly because the package's
// TypeScript surface does not export them. A build without them leaves the
// netlink monitors unavailable with a reason instead of failing the server.

import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

export interface AuditItem {
  /** Milliseconds since the epoch when the reader received the message. */
  time: number
  /** Netlink message type, such as 1423 for AUDIT_LANDLOCK_ACCESS. */
  type: number
  text: string
}

export interface ProcItem {
  time: number
  what: 'fork' | 'exec' | 'exit'
  pid: number
  tgid: number
  parentPid?: number
  /** Fork and exit: the parent's pid. Exec: the parent from /proc/PID/stat, when it could be read. */
  parentTgid?: number
  exitCode?: number
  exitSignal?: number
  /** Exec only: /proc/PID/cmdline (NUL-separated, at most 4096 bytes) read when the event arrived. */
  cmdline?: Buffer
}

export interface NetlinkReaderStats {
  received: number
  delivered: number
  /** Items dropped because maxQueue batches were already waiting. */
  dropped: number
  /** Socket buffer overflows (ENOBUFS): the kernel discarded an unknown number of messages. */
  overruns: number
}

export interface NetlinkReader {
  close(): void
  stats(): NetlinkReaderStats
}

export interface NetlinkReaderOptions<T> {
  /** Batches waiting for the JavaScript thread before further ones are dropped; one batch per received socket buffer. */
  maxQueue: number
  /** Receives the items of one socket read, with the items dropped and the overflows counted since the previous call. */
  onBatch: (items: T[], dropped: number, overruns: number) => void
}

export interface MonitorAddon {
  NetlinkReader: {
    new (source: 'audit', options: NetlinkReaderOptions<AuditItem>): NetlinkReader
    new (source: 'proc', options: NetlinkReaderOptions<ProcItem>): NetlinkReader
  }
  auditStatus(): { enabled: number; pid: number; failure: number; lost: number; backlog: number }
  /** Sends AUDIT_SET and returns the previous enabled value. */
  auditSetEnabled(enabled: 0 | 1): number
}

export type AddonResult = { addon: MonitorAddon } | { addon: null; reason: string }

/** Environment variable naming another addon file, for a build that has the readers before the package does. */
export const ADDON_PATH_ENV = 'BLACKHOLE_MONITOR_ADDON'

let cached: AddonResult | null = null

function candidatePaths(): string[] {
  const override = process.env[ADDON_PATH_ENV]
  if (override !== undefined && override !== '') return [override]
  const require = createRequire(import.meta.url)
  let packageDir: string
  try {
    // Resolves to packages/native/dist/index.js (or lib/ in a source checkout).
    packageDir = dirname(dirname(require.resolve('@blackhole/native')))
  } catch {
    packageDir = join(dirname(new URL(import.meta.url).pathname), '../../../../packages/native')
  }
  return [join(packageDir, 'build/Release/blackhole_native.node'), join(packageDir, 'build/Debug/blackhole_native.node')]
}

/** Loads the addon once and checks that it has the netlink readers. */
export function loadMonitorAddon(): AddonResult {
  if (cached !== null) return cached
  const require = createRequire(import.meta.url)
  const paths = candidatePaths()
  const path = paths.find((candidate) => existsSync(candidate))
  if (path === undefined) {
    cached = { addon: null, reason: `native addon not found at ${paths.join(' or ')}; build packages/native` }
    return cached
  }
  try {
    const addon = require(path) as Partial<MonitorAddon>
    if (typeof addon.NetlinkReader !== 'function' || typeof addon.auditStatus !== 'function') {
      cached = {
        addon: null,
        reason: `native addon ${path} has no NetlinkReader; rebuild packages/native with src/monitor_netlink.cc`,
      }
    } else {
      cached = { addon: addon as MonitorAddon }
    }
  } catch (error) {
    cached = { addon: null, reason: `loading the native addon ${path} failed: ${(error as Error).message}` }
  }
  return cached
}
