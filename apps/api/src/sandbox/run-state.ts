// `<dataDir>/run/<service>.json`: the state of a running service kept on
// disk, so a supervisor started after a crash can find the process again.
// The pid plus its start time identify the process even when the pid was
// reused.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface RunState {
  service: string
  pid: number
  /** Field 22 of /proc/PID/stat: clock ticks after boot when the process started. */
  startTime: number | null
  uid: number
  gid: number
  profile: string
  /** ISO 8601 UTC. */
  startedAt: string
  /** Leaf cgroup folders of the service. */
  cgroup: string[]
  configPath: string
}

export function runStatePath(dataDir: string, service: string): string {
  return join(dataDir, 'run', `${service}.json`)
}

/** Writes the run state file (0600) of a service. */
export function writeRunState(dataDir: string, state: RunState): void {
  mkdirSync(join(dataDir, 'run'), { recursive: true, mode: 0o700 })
  writeFileSync(runStatePath(dataDir, state.service), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 })
}

/** Reads a run state file; null when it is missing or not valid JSON. */
export function readRunState(dataDir: string, service: string): RunState | null {
  try {
    return JSON.parse(readFileSync(runStatePath(dataDir, service), 'utf8')) as RunState
  } catch {
    return null
  }
}

export function removeRunState(dataDir: string, service: string): void {
  rmSync(runStatePath(dataDir, service), { force: true })
}
