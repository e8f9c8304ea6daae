// @blackhole/native: the sandbox launcher and the kernel helpers the
// supervisor needs (pidfd exit watching, seccomp notifications, link flags).

import { constants } from 'node:os'
import type { LaunchSpec } from '@blackhole/policy'
import { LaunchError } from './launch-error.js'
import { native } from './native.js'
import type {
  HostFacts,
  NativeSeccompNotifier,
  NotifierStats,
  NotifyAction,
  NotifyEvent,
} from './native.js'
import { validateLaunchSpec } from './validate.js'

export { LaunchError } from './launch-error.js'
export { validateLaunchSpec } from './validate.js'
export { listenTcp, listenUnix, peerCredentials } from './sockets.js'
export type { PeerCredentials } from './sockets.js'
export type { HostFacts, NotifierStats, NotifyAction, NotifyEvent } from './native.js'

export interface SandboxChild {
  /** Pid in the supervisor's PID namespace. */
  pid: number
  /** pidfd of the child, close-on-exec; close it with closeFd after the exit is reaped. */
  pidfd: number
  /** Seccomp notification descriptor (close-on-exec) when spec.seccomp.listener, else null. */
  notifyFd: number | null
}

export interface SpawnHooks {
  /**
   * Runs synchronously after the child is in its cgroups and before it
   * starts its setup, for example to move a veth end into its network
   * namespace. If it throws, the child is killed and the error propagates.
   */
  beforeRelease?: (pid: number) => void
  /**
   * Maximum milliseconds from release to execve before the child is killed
   * and a LaunchError with step `wait for execve` is thrown; 30000 by default.
   */
  launchTimeoutMs?: number
}

export interface ExitStatus {
  code: number | null
  /** Signal name such as `SIGKILL`, or null when the process exited. */
  signal: string | null
  /** Wait status as waitpid(2) reports it; -1 when the status was lost. */
  status: number
}

/**
 * Starts a process in a new sandbox following the launch sequence, and
 * returns once execve succeeded. Throws a TypeError for an invalid spec and
 * a LaunchError naming the failed step otherwise.
 */
export function spawnSandbox(spec: LaunchSpec, hooks: SpawnHooks = {}): SandboxChild {
  validateLaunchSpec(spec)
  if (hooks.beforeRelease !== undefined && typeof hooks.beforeRelease !== 'function') {
    throw new TypeError(`hooks.beforeRelease must be a function, got ${typeof hooks.beforeRelease}`)
  }
  const timeout = hooks.launchTimeoutMs
  if (timeout !== undefined && (!Number.isInteger(timeout) || timeout < 1 || timeout > 0x7fffffff)) {
    throw new TypeError(`hooks.launchTimeoutMs must be a positive integer of milliseconds, got ${timeout}`)
  }
  const result = native.spawnSandbox(spec, hooks.beforeRelease, timeout)
  if ('error' in result) {
    const { step, errno, code, message, detail, hint } = result.error
    throw new LaunchError(step, errno, code, message, detail, hint)
  }
  return result
}

const signalNames = new Map<number, string>(
  Object.entries(constants.signals).map(([name, number]) => [number, name]),
)

function signalNumber(signal: number | string): number {
  if (typeof signal === 'number') {
    if (!Number.isInteger(signal) || signal < 0 || signal > 64) {
      throw new TypeError(`signal must be a signal number from 0 to 64 or a name such as 'SIGTERM', got ${signal}`)
    }
    return signal
  }
  const number = (constants.signals as Record<string, number | undefined>)[signal]
  if (number === undefined) {
    throw new TypeError(`signal '${signal}' is not a known signal name such as 'SIGTERM'`)
  }
  return number
}

function checkFd(fd: number, name: string): void {
  if (!Number.isInteger(fd) || fd < 0) throw new TypeError(`${name} must be a descriptor number, got ${fd}`)
}

/**
 * Calls back once when the process behind pidfd exits, after reaping it
 * with waitid(P_PIDFD). Polls on the event loop and never blocks it.
 * Returns a function that stops watching. The watch keeps the loop alive.
 */
export function watchExit(pidfd: number, callback: (exit: ExitStatus) => void): () => void {
  checkFd(pidfd, 'pidfd')
  return native.watchExit(pidfd, (exit) => {
    callback({
      code: exit.code,
      signal: exit.signal === null ? null : (signalNames.get(exit.signal) ?? `SIG${exit.signal}`),
      status: exit.status,
    })
  })
}

/** Opens a pidfd (pidfd_open) for a pid in the caller's PID namespace. */
export function openPidfd(pid: number): number {
  if (!Number.isInteger(pid) || pid <= 0) throw new TypeError(`pid must be a positive integer, got ${pid}`)
  return native.openPidfd(pid)
}

/** Sends a signal through a pidfd, which cannot hit a recycled pid. */
export function pidfdSendSignal(pidfd: number, signal: number | string): void {
  checkFd(pidfd, 'pidfd')
  native.pidfdSendSignal(pidfd, signalNumber(signal))
}

export function closeFd(fd: number): void {
  checkFd(fd, 'fd')
  native.closeFd(fd)
}

/**
 * Sets or clears IFF_UP on an interface inside the network namespace of pid,
 * for example to cut a sandbox's network and restore it.
 */
export function setLinkUp(pid: number, ifname: string, up: boolean): void {
  if (!Number.isInteger(pid) || pid <= 0) throw new TypeError(`pid must be a positive integer, got ${pid}`)
  native.setLinkUp(pid, ifname, up)
}

/** Reads what the kernel offers: Landlock ABI, seccomp notification, capabilities, pidfd, clone3. */
export function hostFacts(): HostFacts {
  return native.hostFacts()
}

export interface SeccompNotifierOptions {
  /** Response per syscall number; other numbers get defaultAction. */
  actions: Record<number, NotifyAction>
  defaultAction: NotifyAction
  /** Events held for JavaScript at most; more are counted as dropped. */
  maxQueue: number
  /** Maximum wait in milliseconds before queued events are delivered; 256 queued events are delivered at once. */
  batchMs: number
  onBatch(events: NotifyEvent[], dropped: number): void
}

function checkAction(action: unknown, field: string): void {
  const value = action as { action?: unknown; errno?: unknown } | null
  const valid =
    typeof value === 'object' &&
    value !== null &&
    (value.action === 'continue' ||
      (value.action === 'errno' && Number.isInteger(value.errno) && (value.errno as number) > 0 && (value.errno as number) < 4096))
  if (!valid) {
    throw new TypeError(`${field} must be { action: 'errno', errno: 1..4095 } or { action: 'continue' }, got ${JSON.stringify(action)}`)
  }
}

/**
 * Responds to seccomp user notifications on a native thread from a fixed table
 * and delivers them to onBatch in batches. Owns notifyFd: close() stops the
 * thread and closes it, after which notified syscalls fail with ENOSYS. The
 * thread also ends on its own when the sandbox exits.
 */
export class SeccompNotifier {
  readonly #native: NativeSeccompNotifier

  constructor(notifyFd: number, options: SeccompNotifierOptions) {
    checkFd(notifyFd, 'notifyFd')
    for (const [key, action] of Object.entries(options.actions)) {
      if (!/^\d+$/.test(key)) throw new TypeError(`actions key '${key}' must be a syscall number`)
      checkAction(action, `actions[${key}]`)
    }
    checkAction(options.defaultAction, 'defaultAction')
    if (!Number.isInteger(options.maxQueue) || options.maxQueue < 1) {
      throw new TypeError(`maxQueue must be a positive integer, got ${options.maxQueue}`)
    }
    if (!Number.isInteger(options.batchMs) || options.batchMs < 0) {
      throw new TypeError(`batchMs must be a non-negative integer of milliseconds, got ${options.batchMs}`)
    }
    if (typeof options.onBatch !== 'function') throw new TypeError('onBatch must be a function')
    this.#native = new native.SeccompNotifier(notifyFd, options)
  }

  close(): void {
    this.#native.close()
  }

  stats(): NotifierStats {
    return this.#native.stats()
  }
}
