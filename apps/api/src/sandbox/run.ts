// `blackhole run --profile NAME -- CMD ARGS...`: one command in a sandbox,
// in the foreground, with the terminal's stdio.

import { closeFd, pidfdSendSignal, SeccompNotifier, watchExit, type NotifyEvent } from '@blackhole/native'
import type { Config, ServiceDefinition } from '@blackhole/policy'
import { constants } from 'node:os'
import { dirname, resolve } from 'node:path'
import type { AuditInput } from '../types.js'
import { notifyEventToAudit } from './notify.js'
import { LaunchError, prepareLaunch, profileOf, spawnPrepared } from './launch.js'
import { ServiceNetwork } from './network.js'
import type { ServiceCgroup } from './cgroups.js'

export interface RunOptions {
  config: Config
  configPath: string
  profileName: string
  argv: string[]
  /** Folder for persistent paths (`<dataDir>/volumes/<profile>/...`); default `./data`. */
  dataDir?: string
  /** Receives each event as an audit record would; optional. */
  record?: (input: AuditInput) => Promise<unknown>
  /** Parent cgroup relative to each hierarchy (default `blackhole`). */
  cgroupParent?: string
  /** Stream for the printed denials (default process.stderr). */
  stderr?: NodeJS.WritableStream
  /** Time from a forwarded SIGINT or SIGTERM to SIGKILL, in milliseconds (default RUN_KILL_GRACE_MS). */
  killGraceMs?: number
}

// The child calls setsid, so it leaves the terminal's foreground process
// group: Ctrl-C reaches only the CLI, which forwards these signals.
// NOTE: the child has no controlling terminal, so an interactive shell runs
// without job control.
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

// The command runs as PID 1 of its namespace, where the kernel drops every
// signal it has no handler for. So after forwarding SIGINT or SIGTERM the
// CLI sends SIGKILL once this grace period ends, or at the second signal.
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']
export const RUN_KILL_GRACE_MS = 5000

/**
 * Runs argv in a sandbox built from one profile and resolves with its exit
 * status (128 + signal number when a signal ended it). A launch failure
 * rejects with the LaunchError, whose `step` names what failed.
 */
export async function runInSandbox(options: RunOptions): Promise<number> {
  const { config, profileName, argv } = options
  profileOf(config, profileName)
  const command = argv[0]
  if (command === undefined || command === '') {
    throw new LaunchError('resolve command', 22, 'EINVAL', 'no command given', '', 'Use blackhole run --profile NAME -- CMD ARGS...')
  }
  const stderr = options.stderr ?? process.stderr
  const record = options.record ?? (async () => undefined)
  const service: ServiceDefinition = {
    name: profileName,
    profile: profileName,
    command,
    args: argv.slice(1),
    workingDirectory: process.cwd(),
    environment: {},
    restart: 'no',
    persistentPaths: [],
    autostart: false,
  }

  const dataDir = resolve(options.dataDir ?? 'data')
  let cgroup: ServiceCgroup | null = null
  const network = runNetwork(options, dataDir, () => cgroup, stderr, record)
  let prepared: Awaited<ReturnType<typeof prepareLaunch>>
  try {
    prepared = await prepareLaunch({
      // The cgroup name carries the pid so concurrent runs of one profile do not collide.
      name: profileName,
      cgroupName: `run-${profileName}-${process.pid}`,
      service,
      config,
      dataDir,
      stdio: [0, 1, 2],
      cgroupParent: options.cgroupParent ?? 'blackhole',
      attach: (identity) => network.attach(identity),
    })
  } catch (error) {
    await network.release().catch(() => undefined)
    throw error
  }
  cgroup = prepared.cgroup
  for (const warning of network.warnings()) stderr.write(`blackhole: warning: ${warning}\n`)
  let notifier: SeccompNotifier | null = null
  const forwarders = new Map<NodeJS.Signals, () => void>()
  let killTimer: NodeJS.Timeout | null = null

  try {
    const child = spawnPrepared(prepared, (pid) => network.beforeRelease(pid))
    await record({
      service: profileName, pid: child.pid, type: 'SERVICE_STARTED', severity: 'info', actor: 'cli',
      description: `${profileName} started as pid ${child.pid} by blackhole run`,
      metadata: { uid: prepared.identity.uid, gid: prepared.identity.gid, profile: profileName, command: prepared.spec.argv, configDir: dirname(options.configPath) },
    })
    if (child.notifyFd !== null) {
      notifier = new SeccompNotifier(child.notifyFd, {
        actions: prepared.notifyActions,
        // Every syscall the filter sends here has an entry; anything else is denied, to fail secure.
        defaultAction: { action: 'errno', errno: 1 },
        maxQueue: 4096,
        batchMs: 50,
        onBatch: (events: NotifyEvent[], dropped: number) => {
          for (const event of events) {
            const audit = notifyEventToAudit(profileName, prepared.profile, event)
            if (audit.type !== 'SYSCALL_OBSERVED') stderr.write(`blackhole: ${audit.type.toLowerCase()}: ${audit.description} (pid ${event.pid})\n`)
            void record(audit).catch(() => undefined)
          }
          if (dropped > 0) stderr.write(`blackhole: ${dropped} seccomp notifications dropped\n`)
        },
      })
    }
    const send = (signal: NodeJS.Signals): void => {
      try {
        pidfdSendSignal(child.pidfd, signal)
      } catch {
        // The child has exited; its exit status follows.
      }
    }
    const graceMs = options.killGraceMs ?? RUN_KILL_GRACE_MS
    for (const signal of FORWARDED_SIGNALS) {
      const forward = (): void => {
        if (!STOP_SIGNALS.includes(signal)) {
          send(signal)
          return
        }
        if (killTimer !== null) {
          send('SIGKILL')
          return
        }
        send(signal)
        stderr.write(`blackhole: sent ${signal} to pid ${child.pid}; SIGKILL follows in ${graceMs / 1000} s, or at the next ${signal}\n`)
        killTimer = setTimeout(() => send('SIGKILL'), graceMs)
        killTimer.unref()
      }
      forwarders.set(signal, forward)
      process.on(signal, forward)
    }
    const exit = await new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      watchExit(child.pidfd, resolve)
    })
    if (notifier !== null) {
      // Notifications queued just before the exit reach JavaScript after
      // close(); wait for them so no denial goes unprinted when the CLI exits.
      notifier.close()
      await drainNotifier(notifier)
    }
    try {
      closeFd(child.pidfd)
    } catch {
      // Already closed.
    }
    await record({
      service: profileName, pid: child.pid, type: 'SERVICE_EXITED', actor: 'cli',
      severity: exit.code === 0 ? 'info' : 'medium',
      description: exit.signal !== null ? `${profileName} was killed by ${exit.signal}` : `${profileName} exited with code ${exit.code}`,
      metadata: { exitCode: exit.code, signal: exit.signal },
    })
    return exitStatus(exit)
  } finally {
    if (killTimer !== null) clearTimeout(killTimer)
    for (const [signal, forward] of forwarders) process.off(signal, forward)
    notifier?.close()
    await network.release().catch((error: unknown) => stderr.write(`blackhole: releasing the network failed: ${(error as Error).message}\n`))
    await cgroup.remove()
  }
}

/**
 * Creates the network of one `blackhole run`. Its veth and control socket carry
 * `run-<cli pid>` as their name, so concurrent runs of one profile and a
 * supervised service of the same name never share a link or a socket.
 */
function runNetwork(
  options: RunOptions, dataDir: string, currentCgroup: () => ServiceCgroup | null,
  stderr: NodeJS.WritableStream, record: (input: AuditInput) => Promise<unknown>,
): ServiceNetwork {
  const service = options.profileName
  return new ServiceNetwork({
    service: `run-${process.pid}`,
    profile: profileOf(options.config, service),
    dataDir,
    isServiceProcess: (pid) => currentCgroup()?.pids().includes(pid) ?? false,
    control: {
      ready: (peer) => {
        void record({
          service, pid: peer.pid, type: 'SERVICE_READY', severity: 'info', actor: 'service',
          description: `${service} reported READY=1 on its control socket`, metadata: { peerUid: peer.uid },
        }).catch(() => undefined)
      },
      status: (text) => stderr.write(`blackhole: status: ${text}\n`),
      watchdog: () => undefined,
      stopping: () => undefined,
      rejected: (peer, reason) => {
        stderr.write(`blackhole: rejected a control socket connection: ${reason}\n`)
        void record({
          service, pid: peer?.pid ?? null, type: 'CONTROL_REJECTED', severity: 'medium', actor: 'cli',
          description: `rejected a connection to the control socket of ${service}: ${reason}`,
          metadata: peer === null ? { reason } : { peerPid: peer.pid, peerUid: peer.uid, peerGid: peer.gid, reason },
        }).catch(() => undefined)
      },
    },
  })
}

/** Maps an exit to a shell-style status: the code, or 128 + the signal number. */
export function exitStatus(exit: { code: number | null; signal: string | null }): number {
  if (exit.signal !== null) {
    const number = constants.signals[exit.signal as NodeJS.Signals]
    return 128 + (number ?? 0)
  }
  return exit.code ?? 1
}

/** Waits until every notification the notifier received was delivered or counted as dropped, at most timeoutMs. */
async function drainNotifier(notifier: SeccompNotifier, timeoutMs = 1000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const { received, delivered, dropped } = notifier.stats()
    if (delivered + dropped >= received || Date.now() > deadline) return
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}
