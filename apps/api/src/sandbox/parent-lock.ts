// One supervisor per cgroup parent. Two supervisors that share a parent
// would create, kill and remove each other's service cgroups, so the second
// one is rejected with the holder named.

import { mkdirSync, openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import { SandboxError } from './errors.js'
import { processStartTime } from './launch.js'

export const PARENT_LOCK_DIR = '/run/blackhole/supervisors'

interface LockHolder {
  pid: number
  startTime: number | null
  dataDir: string
}

export class CgroupParentInUseError extends SandboxError {
  constructor(parent: string, holder: LockHolder) {
    super(
      'CGROUP_PARENT_IN_USE',
      409,
      `cgroup parent "${parent}" is in use by another supervisor (pid ${holder.pid}, data ${holder.dataDir}); ` +
        'stop it, or start this one with --cgroup-parent NAME',
    )
  }
}

/** A held lock on a cgroup parent name; release() removes it. */
export interface ParentLock {
  readonly path: string
  release(): void
}

/**
 * Takes the lock file of a cgroup parent (O_EXCL create). A lock left by a
 * process that no longer runs (pid gone, or reused with another start
 * time) is replaced. The same process may take it again, so one process can
 * run several Supervisor instances one after another, as tests do.
 */
export function lockCgroupParent(parent: string, dataDir: string, lockDir = PARENT_LOCK_DIR): ParentLock {
  mkdirSync(lockDir, { recursive: true, mode: 0o755 })
  const path = join(lockDir, `${parent.replaceAll('/', '_')}.lock`)
  const self: LockHolder = { pid: process.pid, startTime: processStartTime(process.pid), dataDir }
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const fd = openSync(path, 'wx', 0o644)
      writeSync(fd, JSON.stringify(self))
      closeSync(fd)
      return { path, release: () => releaseIfOurs(path) }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const holder = readHolder(path)
    if (holder !== null && holder.pid === process.pid) return { path, release: () => releaseIfOurs(path) }
    if (holder !== null && isAlive(holder)) throw new CgroupParentInUseError(parent, holder)
    unlinkSync(path)
  }
  throw new Error(`taking the cgroup parent lock ${path} failed twice; remove it if no supervisor runs`)
}

function readHolder(path: string): LockHolder | null {
  try {
    const value = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockHolder>
    if (typeof value.pid !== 'number') return null
    return { pid: value.pid, startTime: value.startTime ?? null, dataDir: String(value.dataDir ?? '?') }
  } catch {
    return null
  }
}

function isAlive(holder: LockHolder): boolean {
  const startTime = processStartTime(holder.pid)
  if (startTime === null) return false
  return holder.startTime === null || holder.startTime === startTime
}

function releaseIfOurs(path: string): void {
  const holder = readHolder(path)
  if (holder === null || holder.pid !== process.pid) return
  try {
    unlinkSync(path)
  } catch {
    // Already removed.
  }
}
