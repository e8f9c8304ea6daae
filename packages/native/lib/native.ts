// The addon's surface, typed in one place, and its loader. src/addon.cc
// registers exactly these names; change both together.

import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import type { LaunchSpec } from '@blackhole/policy'

export interface NativeLaunchFailure {
  /** Launch step that failed, for example `mount tmpfs` or `execve`. */
  step: string
  errno: number
  /** Errno name such as `EPERM`. */
  code: string
  /** strerror(errno). */
  message: string
  /** Path or value the step worked on; empty when none applies. */
  detail: string
  /** Host setting to check, for example after EPERM on clone; empty when none applies. */
  hint: string
}

export interface NativeChild {
  pid: number
  pidfd: number
  notifyFd: number | null
}

export interface NativeExit {
  code: number | null
  /** Signal number that ended the process, or null. */
  signal: number | null
  /** Wait status in the format of waitpid(2); -1 when someone else reaped the process. */
  status: number
}

export type NotifyAction = { action: 'errno'; errno: number } | { action: 'continue' }

export interface NotifyEvent {
  /** Pid of the caller in the supervisor's PID namespace. */
  pid: number
  syscall: number
  /** AUDIT_ARCH_* value of the call, for example 0xc000003e for x86_64. */
  arch: number
  /** The six raw arguments as decimal strings (u64 does not fit a number). */
  args: string[]
  action: 'errno' | 'continue'
  errno: number
  /** Milliseconds since the epoch when the notification was received. */
  time: number
  decoded?: {
    path?: string
    argv?: string[]
    family?: string
    address?: string
    port?: number
    request?: number
  }
}

export interface NativeNotifierOptions {
  actions: Record<number, NotifyAction>
  defaultAction: NotifyAction
  maxQueue: number
  batchMs: number
  onBatch(events: NotifyEvent[], dropped: number): void
}

export interface NotifierStats {
  received: number
  delivered: number
  dropped: number
}

export interface NativeSeccompNotifier {
  close(): void
  stats(): NotifierStats
}

export interface HostFacts {
  /** Landlock ABI version, 0 when Landlock is unavailable. */
  landlockAbi: number
  seccompNotify: boolean
  capLastCap: number
  /** The supervisor's capability bounding set as 16 hex digits, as in /proc/self/status. */
  boundingSet: string
  pidfd: boolean
  clone3: boolean
}

/** SO_PEERCRED of a connected unix socket; pid in the supervisor's PID namespace. */
export interface PeerCredentials {
  pid: number
  uid: number
  gid: number
}

export interface NativeBinding {
  spawnSandbox(
    spec: LaunchSpec,
    beforeRelease?: (pid: number) => void,
    timeoutMs?: number,
  ): NativeChild | { error: NativeLaunchFailure }
  watchExit(pidfd: number, callback: (exit: NativeExit) => void): () => void
  openPidfd(pid: number): number
  pidfdSendSignal(pidfd: number, signal: number): void
  closeFd(fd: number): void
  setLinkUp(pid: number, ifname: string, up: boolean): void
  hostFacts(): HostFacts
  listenTcp(host: string, port: number, backlog: number): number
  listenUnix(path: string, backlog: number): number
  peerCredentials(fd: number): PeerCredentials
  SeccompNotifier: new (notifyFd: number, options: NativeNotifierOptions) => NativeSeccompNotifier
}

// lib/ (tests) and dist/ (builds) both sit one level below the package root.
const candidates = [
  '../build/Release/blackhole_native.node',
  '../build/Debug/blackhole_native.node',
].map((path) => fileURLToPath(new URL(path, import.meta.url)))

function loadBinding(): NativeBinding {
  const require = createRequire(import.meta.url)
  const failures: string[] = []
  for (const path of candidates) {
    if (!existsSync(path)) {
      failures.push(`${path}: not found`)
      continue
    }
    try {
      return require(path) as NativeBinding
    } catch (error) {
      failures.push(`${path}: ${(error as Error).message}`)
    }
  }
  throw new Error(
    'Cannot load the blackhole_native addon. Tried:\n  ' +
      failures.join('\n  ') +
      '\nBuild it with `node-gyp rebuild` in packages/native (pnpm install runs it).',
  )
}

export const native: NativeBinding = loadBinding()
