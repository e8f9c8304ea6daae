// The supervisor: runs the services of a config in sandboxes, watches them
// and carries out the operator's actions (stop, terminate, isolate, block).

import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { rmdirSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { closeFd, pidfdSendSignal, SeccompNotifier, watchExit, type NotifyEvent } from '@blackhole/native'
import type { Config, EnforceMode, NotifyAction, Profile, ServiceDefinition } from '@blackhole/policy'
import { canonicalJson } from '../audit/canonical.js'
import type { AuditInput, ResourceSample, ServiceStatus } from '../types.js'
import { detectLayout, listServiceCgroups, ServiceCgroup, type CgroupLayout } from './cgroups.js'
import { InvalidStateError, ServiceNotFoundError } from './errors.js'
import {
  closeQuietly,
  describeLaunchFailure,
  openServiceLog,
  prepareLaunch,
  processStartTime,
  profileOf,
  spawnPrepared,
} from './launch.js'
import { ServiceNetwork } from './network.js'
import { lockCgroupParent, type ParentLock } from './parent-lock.js'
import { notifyEventToAudit } from './notify.js'
import { removeRunState, writeRunState } from './run-state.js'

export interface SupervisorLogger {
  info(message: string): void
  warn(message: string): void
  error(message: string): void
}

export interface SupervisorOptions {
  config: Config
  configPath: string
  dataDir: string
  /** Appends one audit record; awaited before an action resolves. */
  record: (input: AuditInput) => Promise<unknown>
  /** Parent cgroup of the services, relative to each hierarchy (default `blackhole`). */
  cgroupRoot?: string
  /** Folder of the cgroup parent lock files; tests point it at a temporary folder. */
  parentLockDir?: string
  /** Time between SIGTERM and SIGKILL for stop and terminate, in milliseconds (default 5000). */
  graceMs?: number
  /** Interval of the 'metrics' event, in milliseconds (default 1000). */
  metricsIntervalMs?: number
  /** IPv4 CIDR from which each veth service gets a /30 (default 169.254.128.0/17). */
  vethRange?: string
  logger?: SupervisorLogger
}

/** Readiness, status text and watchdog time a service last reported on its control socket. */
export interface ControlState {
  /** True after READY=1, until the process exits. */
  ready: boolean
  /** The last STATUS= text; null before the first. */
  statusText: string | null
  /** Milliseconds since the epoch of the last WATCHDOG=1; null before the first. */
  watchdogAt: number | null
}

export interface StartOptions {
  /** Runs this process under the given mode instead of the profile's, as learn mode does with `permissive`. */
  enforceMode?: EnforceMode
}

export interface ExitInfo {
  code: number | null
  signal: string | null
}

type StopIntent = 'stop' | 'terminate' | 'shutdown'

interface ServiceRuntime {
  name: string
  definition: ServiceDefinition
  status: ServiceStatus
  pidfd: number | null
  notifier: SeccompNotifier | null
  cgroup: ServiceCgroup | null
  stopWatch: (() => void) | null
  /** Resolves when the current process has exited and been cleaned up. */
  exited: Promise<ExitInfo> | null
  /** Set when the exit is expected, so the restart policy stays out. */
  intent: StopIntent | null
  /** Set as soon as watchExit has reaped the process, after which its pid may be reused. */
  reaped: boolean
  /** Reasons the network is cut. The links come back up when the set is empty. */
  netCuts: Set<'isolate' | 'block'>
  /** Listen sockets, control socket and veth pair of the current process. */
  network: ServiceNetwork | null
  control: ControlState
  restartTimer: NodeJS.Timeout | null
  backoffMs: number
  startedAtMs: number
  oomKills: number
  /** Mode set at runtime through setEnforceMode; used by every launch, restarts included, until cleared. */
  modeOverride: EnforceMode | null
  /** Serialises actions on one service. */
  queue: Promise<unknown>
}

const DEFAULT_CGROUP_PARENT = 'blackhole'

// Higher is stricter; a change to a lower mode is recorded at high severity.
const MODE_STRENGTH: Record<EnforceMode, number> = { disabled: 0, permissive: 1, enforce: 2 }

const MIN_BACKOFF_MS = 1000
const MAX_BACKOFF_MS = 30_000
// A run at least this long counts as healthy and resets the backoff.
const HEALTHY_UPTIME_MS = 60_000
// Per notifier batch; the rest is summarised in one NOTIFY_DROPPED record.
const MAX_NOTIFY_RECORDS_PER_BATCH = 100
// Per service and second; the rest is summarised in one SYSCALL_OBSERVED_SUMMARY record.
export const MAX_OBSERVED_RECORDS_PER_SECOND = 50
// Per service and minute; later rejections are counted in the next record.
const MAX_REJECTION_RECORDS_PER_MINUTE = 20

const quietLogger: SupervisorLogger = {
  info: () => undefined,
  warn: (message) => console.warn(`blackhole: ${message}`),
  error: (message) => console.error(`blackhole: ${message}`),
}

/**
 * Runs the services of a config. Emits 'service' with a ServiceStatus on
 * each state change, 'metrics' with ResourceSample[] every second, and
 * 'control' with the service name and its ControlState when the service
 * reports READY or STATUS on its control socket.
 */
export class Supervisor extends EventEmitter {
  readonly config: Config
  readonly configPath: string
  readonly dataDir: string
  private readonly record: (input: AuditInput) => Promise<unknown>
  private readonly cgroupParent: string
  private readonly graceMs: number
  private readonly logger: SupervisorLogger
  private readonly layout: CgroupLayout
  private readonly vethRange: string | undefined
  private readonly services = new Map<string, ServiceRuntime>()
  private metricsTimer: NodeJS.Timeout | null = null
  private shuttingDown = false
  private shutdownPromise: Promise<void> | null = null
  /** Taken at the first launch, so a supervisor that never launches (as in API tests) holds no lock. */
  private parentLock: ParentLock | null = null
  private readonly parentLockDir: string | undefined

  constructor(options: SupervisorOptions) {
    super()
    this.config = options.config
    this.configPath = options.configPath
    this.dataDir = options.dataDir
    this.record = options.record
    this.cgroupParent = options.cgroupRoot ?? DEFAULT_CGROUP_PARENT
    this.parentLockDir = options.parentLockDir
    this.graceMs = options.graceMs ?? 5000
    this.logger = options.logger ?? quietLogger
    this.layout = detectLayout()
    this.vethRange = options.vethRange
    for (const [name, definition] of Object.entries(this.config.services)) this.services.set(name, newRuntime(name, definition))
    const interval = options.metricsIntervalMs ?? 1000
    this.metricsTimer = setInterval(() => this.emitMetrics(), interval)
    this.metricsTimer.unref()
  }

  list(): ServiceStatus[] {
    return [...this.services.values()].map((runtime) => ({ ...runtime.status, command: [...runtime.status.command] }))
  }

  get(name: string): ServiceStatus {
    const runtime = this.runtime(name)
    return { ...runtime.status, command: [...runtime.status.command] }
  }

  /**
   * Adds a service or replaces a service's definition. The definition's
   * profile must be in the config. A running service keeps its process and
   * uses the new definition from its next start. Returns true for a new
   * service.
   */
  define(name: string, definition: ServiceDefinition): boolean {
    if (this.shuttingDown) throw new InvalidStateError(`cannot define ${name}: the supervisor is shutting down`)
    profileOf(this.config, definition.profile)
    const runtime = this.services.get(name)
    if (runtime === undefined) {
      const added = newRuntime(name, definition)
      this.services.set(name, added)
      this.emit('service', { ...added.status, command: [...added.status.command] })
      return true
    }
    runtime.definition = definition
    if (runtime.status.pid === null) {
      this.setStatus(runtime, { profile: definition.profile, command: [definition.command, ...definition.args] })
    }
    return false
  }

  /** Removes a stopped or failed service; throws INVALID_STATE (409) for one with a process. */
  remove(name: string): void {
    const runtime = this.runtime(name)
    if (runtime.status.pid !== null || runtime.exited !== null || (runtime.status.state !== 'stopped' && runtime.status.state !== 'failed')) {
      throw new InvalidStateError(`cannot remove ${name} while it is ${runtime.status.state}; stop it first`)
    }
    this.cancelRestart(runtime)
    this.services.delete(name)
  }

  /** Starts every stopped or failed service with autostart; a launch failure leaves that service `failed`. */
  async startAll(actor: string): Promise<ServiceStatus[]> {
    const names = [...this.services.values()]
      .filter((r) => r.definition.autostart && (r.status.state === 'stopped' || r.status.state === 'failed'))
      .map((r) => r.name)
    await Promise.all(names.map((name) => this.start(name, actor)))
    return this.list()
  }

  /**
   * Starts a stopped or failed service. Resolves with its status: `running`,
   * or `failed` with lastError after a LAUNCH_FAILED record.
   * `options.enforceMode` overrides the profile's mode for this process
   * only; a restart by the restart policy uses the profile's own mode.
   */
  start(name: string, actor: string, options: StartOptions = {}): Promise<ServiceStatus> {
    const runtime = this.runtime(name)
    return this.serialise(runtime, async () => {
      if (this.shuttingDown) throw new InvalidStateError(`cannot start "${name}": the supervisor is shutting down`)
      if (runtime.status.state !== 'stopped' && runtime.status.state !== 'failed') {
        throw new InvalidStateError(`cannot start "${name}": it is ${runtime.status.state}; stop it first`)
      }
      this.cancelRestart(runtime)
      await this.launch(runtime, actor, options.enforceMode)
      return this.get(name)
    })
  }

  /**
   * Switches the seccomp mode of one service (enforce, permissive or
   * disabled) without changing its profile. A seccomp filter cannot be
   * changed once installed, so a running service restarts in the new mode.
   * A stopped one takes it at its next start. The mode stays in force
   * across restarts until it is set back to the profile's own mode.
   */
  async setEnforceMode(name: string, mode: EnforceMode, actor: string): Promise<ServiceStatus> {
    const runtime = this.runtime(name)
    const state = runtime.status.state
    if (state === 'isolated') throw new InvalidStateError(`cannot change the mode of "${name}" while it is isolated; resume it first`)
    if (state === 'starting' || state === 'stopping') throw new InvalidStateError(`cannot change the mode of "${name}" while it is ${state}`)
    const profileMode = this.profile(runtime).enforceMode
    const previous = runtime.modeOverride ?? profileMode
    runtime.modeOverride = mode === profileMode ? null : mode
    const weakened = MODE_STRENGTH[mode] < MODE_STRENGTH[previous]
    await this.safeRecord({
      service: name, pid: runtime.status.pid, type: 'ENFORCE_MODE_CHANGED', severity: weakened ? 'high' : 'info', actor,
      description: `${name} seccomp mode set from ${previous} to ${mode}` + (state === 'running' ? '; restarting' : '; applies at its next start'),
      metadata: { previous, mode, profileMode, restart: state === 'running' },
    })
    if (state !== 'running') return this.get(name)
    await this.stop(name, actor)
    return this.start(name, actor)
  }

  /** Stops a service: SIGTERM to its process group, SIGKILL after the grace period. */
  stop(name: string, actor: string, options: { graceMs?: number } = {}): Promise<ServiceStatus> {
    const runtime = this.runtime(name)
    return this.serialise(runtime, async () => {
      if (runtime.restartTimer !== null && runtime.exited === null) {
        // A pending restart is all there is to stop.
        this.cancelRestart(runtime)
        this.setStatus(runtime, { state: 'stopped' })
        await this.safeRecord(this.lifecycle(runtime, 'SERVICE_STOPPED', 'info', `${name} stopped before a scheduled restart`, actor))
        return this.get(name)
      }
      this.requireProcess(runtime, 'stop')
      const exit = await this.endProcess(runtime, 'stop', options.graceMs ?? this.graceMs)
      await this.safeRecord(
        this.lifecycle(runtime, 'SERVICE_STOPPED', 'info', `${name} stopped by ${actor}`, actor, { ...exit }),
      )
      return this.get(name)
    })
  }

  /**
   * Terminates a service: SIGTERM to its process group, SIGKILL after the
   * grace period, then SIGKILL to whatever is left in its cgroup. An
   * isolated service is killed at once without a thaw, so a frozen process
   * never runs again.
   */
  terminate(name: string, actor: string, options: { graceMs?: number; reason?: string } = {}): Promise<ServiceStatus> {
    const runtime = this.runtime(name)
    return this.serialise(runtime, async () => {
      this.requireProcess(runtime, 'terminate')
      const pid = runtime.status.pid
      const graceMs = runtime.status.state === 'isolated' ? 0 : options.graceMs ?? this.graceMs
      const exit = await this.endProcess(runtime, 'terminate', graceMs)
      await this.safeRecord({
        ...this.lifecycle(runtime, 'SERVICE_TERMINATED', 'high', `${name} terminated by ${actor}`, actor),
        pid,
        metadata: { ...exit, graceMs, reason: options.reason ?? null },
      })
      return this.get(name)
    })
  }

  /** Freezes the service's cgroup and cuts its network; `resume` undoes both. */
  isolate(name: string, actor: string, reason?: string): Promise<ServiceStatus> {
    const runtime = this.runtime(name)
    return this.serialise(runtime, async () => {
      if (runtime.status.state !== 'running') {
        throw new InvalidStateError(`cannot isolate "${name}": it is ${runtime.status.state}, not running`)
      }
      const networkCut = this.cutNetwork(runtime, 'isolate')
      try {
        await runtime.cgroup!.freeze()
      } catch (error) {
        // A half-done isolation would report running with the network cut: undo it.
        await runtime.cgroup!.thaw().catch(() => undefined)
        this.restoreNetwork(runtime, 'isolate')
        throw error
      }
      this.setStatus(runtime, { state: 'isolated' })
      await this.safeRecord(
        this.lifecycle(runtime, 'SERVICE_ISOLATED', 'high', `${name} isolated by ${actor}${reason ? `: ${reason}` : ''}`, actor, {
          reason: reason ?? null,
          frozen: true,
          networkCut,
        }),
      )
      return this.get(name)
    })
  }

  resume(name: string, actor: string): Promise<ServiceStatus> {
    const runtime = this.runtime(name)
    return this.serialise(runtime, async () => {
      if (runtime.status.state !== 'isolated') {
        throw new InvalidStateError(`cannot resume "${name}": it is ${runtime.status.state}, not isolated`)
      }
      await runtime.cgroup!.thaw()
      this.restoreNetwork(runtime, 'isolate')
      this.setStatus(runtime, { state: 'running' })
      await this.safeRecord(this.lifecycle(runtime, 'SERVICE_RESUMED', 'medium', `${name} resumed by ${actor}`, actor))
      return this.get(name)
    })
  }

  /** Cuts the service's network and leaves it running; `unblock` undoes it. */
  block(name: string, actor: string, reason?: string): Promise<ServiceStatus> {
    const runtime = this.runtime(name)
    return this.serialise(runtime, async () => {
      if (runtime.status.state !== 'running' && runtime.status.state !== 'isolated') {
        throw new InvalidStateError(`cannot block "${name}": it is ${runtime.status.state}, not running`)
      }
      if (runtime.netCuts.has('block')) throw new InvalidStateError(`cannot block "${name}": it is already blocked`)
      if (this.profile(runtime).network.mode === 'host') {
        throw new InvalidStateError(
          `cannot block "${name}": it shares the host network (network mode host); isolate or terminate it instead`,
        )
      }
      this.cutNetwork(runtime, 'block')
      await this.safeRecord(
        this.lifecycle(runtime, 'SERVICE_BLOCKED', 'medium', `${name} blocked by ${actor}${reason ? `: ${reason}` : ''}`, actor, {
          reason: reason ?? null,
        }),
      )
      return this.get(name)
    })
  }

  unblock(name: string, actor: string): Promise<ServiceStatus> {
    const runtime = this.runtime(name)
    return this.serialise(runtime, async () => {
      if (!runtime.netCuts.has('block')) throw new InvalidStateError(`cannot unblock "${name}": it is not blocked`)
      this.requireProcess(runtime, 'unblock')
      this.restoreNetwork(runtime, 'block')
      await this.safeRecord(this.lifecycle(runtime, 'SERVICE_UNBLOCKED', 'info', `${name} unblocked by ${actor}`, actor))
      return this.get(name)
    })
  }

  /** Stops every service, records SUPERVISOR_STOPPED and removes the cgroups. Later calls return the first call's promise. */
  shutdown(actor: string): Promise<void> {
    this.shutdownPromise ??= this.shutdownOnce(actor)
    return this.shutdownPromise
  }

  private async shutdownOnce(actor: string): Promise<void> {
    this.shuttingDown = true
    if (this.metricsTimer !== null) clearInterval(this.metricsTimer)
    this.metricsTimer = null
    await Promise.all(
      [...this.services.values()].map(async (runtime) => {
        this.cancelRestart(runtime)
        await runtime.queue.catch(() => undefined)
        if (runtime.exited === null) return
        try {
          const graceMs = runtime.status.state === 'isolated' ? 0 : this.graceMs
          const exit = await this.endProcess(runtime, 'shutdown', graceMs)
          await this.safeRecord(
            this.lifecycle(runtime, 'SERVICE_STOPPED', 'info', `${runtime.name} stopped at supervisor shutdown`, actor, { ...exit }),
          )
        } catch (error) {
          this.logger.error(`stopping ${runtime.name} at shutdown failed: ${(error as Error).message}`)
        }
      }),
    )
    this.removeParentCgroups()
    this.parentLock?.release()
    await this.safeRecord({
      type: 'SUPERVISOR_STOPPED',
      severity: 'info',
      description: 'supervisor stopped',
      actor,
      metadata: { services: this.services.size },
    })
  }

  // ---- launch ----

  private async launch(runtime: ServiceRuntime, actor: string, requestedMode?: EnforceMode): Promise<void> {
    const { name, definition } = runtime
    const enforceMode = requestedMode ?? runtime.modeOverride ?? undefined
    const config = enforceMode === undefined ? this.config : withEnforceMode(this.config, definition.profile, enforceMode)
    runtime.intent = null
    runtime.reaped = false
    runtime.netCuts.clear()
    this.setStatus(runtime, {
      state: 'starting', pid: null, uid: null, gid: null, blocked: false,
      exitCode: null, exitSignal: null, lastError: null, startedAt: null, ready: false, statusText: null,
    })
    let logFd: number | null = null
    let cgroup: ServiceCgroup | null = null
    runtime.control = { ready: false, statusText: null, watchdogAt: null }
    const network = this.serviceNetwork(runtime, () => cgroup)
    try {
      this.parentLock ??= lockCgroupParent(this.cgroupParent, this.dataDir, this.parentLockDir)
      logFd = openServiceLog(this.dataDir, name)
      const prepared = await prepareLaunch({
        name, service: definition, config, dataDir: this.dataDir,
        stdio: [-1, logFd, logFd], cgroupParent: this.cgroupParent, cgroupLayout: this.layout,
        attach: (identity) => network.attach(identity),
      })
      cgroup = prepared.cgroup
      const warnings = [...prepared.warnings, ...network.warnings()]
      for (const warning of warnings) {
        await this.safeRecord({
          service: name, type: 'PROFILE_WARNING', severity: 'low', description: warning, actor: 'supervisor',
          metadata: { profile: definition.profile },
        })
      }
      const child = spawnPrepared(prepared, (pid) => network.beforeRelease(pid))
      closeQuietly(logFd)
      logFd = null
      runtime.pidfd = child.pidfd
      runtime.cgroup = cgroup
      runtime.network = network
      runtime.startedAtMs = Date.now()
      runtime.oomKills = cgroup.oomKills()
      runtime.status.command = [...prepared.spec.argv]
      runtime.status.pid = child.pid
      runtime.exited = new Promise<ExitInfo>((resolve) => {
        runtime.stopWatch = watchExit(child.pidfd, (exit) => {
          runtime.reaped = true
          void this.onExit(runtime, exit).then(resolve, (error: unknown) => {
            this.logger.error(`cleanup after ${name} exited failed: ${(error as Error).message}`)
            resolve({ code: exit.code, signal: exit.signal })
          })
        })
      })
      if (child.notifyFd !== null) {
        try {
          runtime.notifier = this.startNotifier(runtime, prepared.profile, child.notifyFd, prepared.notifyActions)
        } catch (error) {
          // Without a listener, a syscall waiting for a decision would block forever.
          runtime.intent = 'stop'
          pidfdSendSignal(child.pidfd, 'SIGKILL')
          await runtime.exited
          throw Object.assign(error as Error, { step: 'notifier' })
        }
      }
      this.writeRunFile(runtime, child.pid, prepared.identity.uid, prepared.identity.gid)
      this.setStatus(runtime, {
        state: 'running', pid: child.pid, uid: prepared.identity.uid, gid: prepared.identity.gid,
        enforceMode: prepared.profile.enforceMode,
        startedAt: new Date(runtime.startedAtMs).toISOString(),
      })
      this.logger.info(`started ${name} as pid ${child.pid} (uid ${prepared.identity.uid})`)
      await this.safeRecord({
        service: name, pid: child.pid, type: 'SERVICE_STARTED', severity: 'info', actor,
        description: `${name} started as pid ${child.pid} under profile ${definition.profile}`,
        metadata: {
          uid: prepared.identity.uid, gid: prepared.identity.gid, user: prepared.identity.user,
          group: prepared.identity.group, profile: definition.profile,
          profileSha256: profileSha256(prepared.profile), configSha256: this.config.sha256,
          command: prepared.spec.argv, cgroup: cgroup.dirs(), restarts: runtime.status.restarts,
          enforceMode: prepared.profile.enforceMode, enforceModeOverridden: enforceMode !== undefined,
          ...network.describe(),
        },
      })
    } catch (error) {
      closeQuietly(logFd)
      if (runtime.exited === null && cgroup !== null) await cgroup.remove().catch(() => undefined)
      if (runtime.exited === null) await this.releaseNetwork(runtime, network)
      const failure = describeLaunchFailure(error, 'prepare')
      this.setStatus(runtime, { state: 'failed', lastError: failure.message })
      this.logger.error(`launch of ${name} failed at step ${failure.step}: ${failure.message}`)
      await this.safeRecord({
        service: name, type: 'LAUNCH_FAILED', severity: 'high', actor,
        description: `${name} failed to start: ${failure.message}`,
        metadata: { step: failure.step, errno: failure.errno, code: failure.code, detail: failure.detail },
      })
      this.scheduleRestart(runtime, true, 0)
    }
  }

  private startNotifier(
    runtime: ServiceRuntime, profile: Profile, notifyFd: number, actions: Record<number, NotifyAction>,
  ): SeccompNotifier {
    const name = runtime.name
    // Observed calls (execve, connect, bind) are normal activity, so a busy
    // service would fill the audit log with them: past a budget per second
    // they are counted and summarised. Denials keep their own cap per batch.
    const observed = { windowStartMs: 0, recorded: 0, suppressed: 0 }
    const flushObserved = (now: number) => {
      if (observed.suppressed > 0) {
        void this.safeRecord({
          service: name, pid: runtime.status.pid, type: 'SYSCALL_OBSERVED_SUMMARY', severity: 'info', actor: 'supervisor',
          description: `${observed.suppressed} more observed syscalls of ${name} were counted but not recorded individually (limit ${MAX_OBSERVED_RECORDS_PER_SECOND} per second)`,
          metadata: { suppressed: observed.suppressed, limitPerSecond: MAX_OBSERVED_RECORDS_PER_SECOND },
        })
      }
      Object.assign(observed, { windowStartMs: now, recorded: 0, suppressed: 0 })
    }
    return new SeccompNotifier(notifyFd, {
      actions,
      // Every syscall the filter sends here has an entry; anything else is denied, to fail secure.
      defaultAction: { action: 'errno', errno: 1 },
      maxQueue: 4096,
      batchMs: 50,
      onBatch: (events: NotifyEvent[], dropped: number) => {
        const kept = events.slice(0, MAX_NOTIFY_RECORDS_PER_BATCH)
        const now = Date.now()
        if (now - observed.windowStartMs >= 1000) flushObserved(now)
        for (const event of kept) {
          const record = notifyEventToAudit(name, profile, event)
          if (record.type === 'SYSCALL_OBSERVED') {
            if (observed.recorded >= MAX_OBSERVED_RECORDS_PER_SECOND) {
              observed.suppressed += 1
              continue
            }
            observed.recorded += 1
          }
          void this.safeRecord(record)
        }
        const skipped = events.length - kept.length
        if (dropped > 0 || skipped > 0) {
          void this.safeRecord({
            service: name, pid: runtime.status.pid, type: 'NOTIFY_DROPPED', severity: 'medium', actor: 'supervisor',
            description: `${dropped + skipped} seccomp notifications of ${name} were not recorded individually`,
            metadata: { droppedByNotifier: dropped, summarised: skipped },
          })
        }
      },
    })
  }

  // ---- exit and stop ----

  private async onExit(runtime: ServiceRuntime, exit: { code: number | null; signal: string | null }): Promise<ExitInfo> {
    const { name } = runtime
    const pid = runtime.status.pid
    runtime.stopWatch = null
    runtime.notifier?.close()
    runtime.notifier = null
    if (runtime.pidfd !== null) {
      try {
        closeFd(runtime.pidfd)
      } catch {
        // Already closed.
      }
    }
    runtime.pidfd = null

    const cgroup = runtime.cgroup
    const oomKills = cgroup?.oomKills() ?? 0
    const forkRejections = cgroup?.forkRejections() ?? 0
    const newOomKills = oomKills - runtime.oomKills
    const oomKilled = exit.signal === 'SIGKILL' && newOomKills > 0
    runtime.oomKills = oomKills
    if (cgroup !== null) {
      try {
        await cgroup.remove()
      } catch (error) {
        this.logger.error(`removing the cgroup of ${name} failed: ${(error as Error).message}`)
      }
    }
    runtime.cgroup = null
    runtime.netCuts.clear()
    if (runtime.network !== null) await this.releaseNetwork(runtime, runtime.network)
    runtime.network = null
    runtime.control.ready = false
    if (runtime.status.ready) this.setStatus(runtime, { ready: false })
    removeRunState(this.dataDir, name)

    const intended = runtime.intent !== null
    const failed = exit.code !== 0 || exit.signal !== null
    const state: ServiceStatus['state'] = failed && !intended ? 'failed' : 'stopped'
    const how = exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`
    // Cleared before the state leaves running, so a start() from a 'service'
    // listener sees no process and launches a new one.
    runtime.exited = null
    this.setStatus(runtime, {
      state, pid: null, blocked: false, exitCode: exit.code, exitSignal: exit.signal,
      lastError: state === 'failed' ? `${name} ${how}${oomKilled ? ' (out of memory)' : ''}` : runtime.status.lastError,
    })

    if (newOomKills > 0) {
      // Kills since the last metrics sample, which records the earlier ones.
      const description = oomKilled
        ? `${name} was killed for exceeding its memory limit`
        : `${newOomKills} process(es) of ${name} killed for exceeding the memory limit`
      await this.safeRecord({
        service: name, pid, type: 'OOM_KILL', severity: 'high', actor: 'supervisor', description,
        metadata: { oomKills, memoryLimitBytes: this.profile(runtime).resourceLimits.maxMemory },
      })
    }
    let severity: AuditInput['severity'] = failed ? 'medium' : 'info'
    if (oomKilled) severity = 'high'
    await this.safeRecord({
      service: name, pid, type: 'SERVICE_EXITED', actor: 'supervisor', severity,
      description: `${name} ${how}`,
      metadata: {
        exitCode: exit.code, signal: exit.signal, oomKilled, forkRejections, uptimeMs: Date.now() - runtime.startedAtMs,
        expected: intended,
      },
    })
    this.logger.info(`${name} ${how}`)
    if (!intended && !this.shuttingDown) this.scheduleRestart(runtime, failed, Date.now() - runtime.startedAtMs)
    return { code: exit.code, signal: exit.signal }
  }

  /**
   * Ends the current process: SIGTERM to its process group, SIGKILL to it
   * after graceMs, then SIGKILL to everything left in its cgroup. Resolves
   * once the exit is recorded and the cgroup removed.
   */
  private async endProcess(runtime: ServiceRuntime, intent: StopIntent, graceMs: number): Promise<ExitInfo> {
    const exited = runtime.exited!
    const pid = runtime.status.pid!
    runtime.intent = intent
    const wasIsolated = runtime.status.state === 'isolated'
    this.setStatus(runtime, { state: 'stopping' })
    if (!wasIsolated && graceMs > 0 && !runtime.reaped) {
      // The child called setsid, so its pid is also its process group id.
      // Until watchExit reaps it, the pid cannot be reused.
      signalGroup(pid, 'SIGTERM')
      const done = await Promise.race([exited.then(() => true), sleep(graceMs, undefined, { ref: false }).then(() => false)])
      if (done) return exited
    }
    if (runtime.pidfd !== null && !runtime.reaped) {
      try {
        pidfdSendSignal(runtime.pidfd, 'SIGKILL')
      } catch {
        // The process exited between the checks.
      }
      // The child is PID 1 of its namespace, so its death kills every other
      // process in it. killAll below catches whatever is left in the cgroup.
      // A frozen child cannot die before the thaw in killAll, so it skips the wait.
      if (!wasIsolated) await Promise.race([exited, sleep(500, undefined, { ref: false })])
    }
    if (runtime.cgroup !== null) {
      try {
        await runtime.cgroup.killAll()
      } catch (error) {
        this.logger.error(`killing the cgroup of ${runtime.name} failed: ${(error as Error).message}`)
      }
    }
    return exited
  }

  /** Applies the restart policy; uptimeMs is how long the last process ran (0 after a launch failure). */
  private scheduleRestart(runtime: ServiceRuntime, failed: boolean, uptimeMs: number): void {
    const policy = runtime.definition.restart
    if (this.shuttingDown || policy === 'no' || (policy === 'on-failure' && !failed)) return
    if (uptimeMs >= HEALTHY_UPTIME_MS) runtime.backoffMs = MIN_BACKOFF_MS
    const delay = runtime.backoffMs
    runtime.backoffMs = Math.min(runtime.backoffMs * 2, MAX_BACKOFF_MS)
    this.logger.info(`restarting ${runtime.name} in ${delay} ms (restart policy ${policy})`)
    runtime.restartTimer = setTimeout(() => {
      runtime.restartTimer = null
      void this.serialise(runtime, async () => {
        if (this.shuttingDown || (runtime.status.state !== 'failed' && runtime.status.state !== 'stopped')) return
        runtime.status.restarts += 1
        await this.launch(runtime, 'supervisor')
      }).catch((error: unknown) => this.logger.error(`restart of ${runtime.name} failed: ${(error as Error).message}`))
    }, delay)
    runtime.restartTimer.unref()
  }

  private cancelRestart(runtime: ServiceRuntime): void {
    if (runtime.restartTimer !== null) clearTimeout(runtime.restartTimer)
    runtime.restartTimer = null
  }

  // ---- network ----

  /**
   * Takes every link in the sandbox's network namespace and the host end of
   * its veth down, and drops its veth and listen port traffic in nftables.
   * Returns false for network mode host.
   */
  private cutNetwork(runtime: ServiceRuntime, reason: 'isolate' | 'block'): boolean {
    if (this.profile(runtime).network.mode === 'host' || runtime.network === null) return false
    if (runtime.netCuts.size === 0) runtime.network.cut(runtime.status.pid!)
    runtime.netCuts.add(reason)
    this.setStatus(runtime, { blocked: true })
    return true
  }

  private restoreNetwork(runtime: ServiceRuntime, reason: 'isolate' | 'block'): void {
    if (!runtime.netCuts.delete(reason) || runtime.netCuts.size > 0) return
    runtime.network?.restore(runtime.status.pid!)
    this.setStatus(runtime, { blocked: false })
  }

  /**
   * Creates the network resources of one launch. Control socket peers must
   * be in the cgroup of this launch, which exists once prepareLaunch created it.
   */
  private serviceNetwork(runtime: ServiceRuntime, currentCgroup: () => ServiceCgroup | null): ServiceNetwork {
    const name = runtime.name
    const peerMetadata = (peer: { pid: number; uid: number; gid: number }) => ({ peerPid: peer.pid, peerUid: peer.uid, peerGid: peer.gid })
    // A flood of rejected connections becomes a few records plus a count.
    const rejections = { windowStartMs: 0, recorded: 0, suppressed: 0 }
    return new ServiceNetwork({
      service: name,
      ...(this.cgroupParent === DEFAULT_CGROUP_PARENT ? {} : { linkKey: `${name}.${this.cgroupParent}` }),
      profile: this.profile(runtime),
      dataDir: this.dataDir,
      ...(this.vethRange === undefined ? {} : { vethRange: this.vethRange }),
      isServiceProcess: (pid) => currentCgroup()?.pids().includes(pid) ?? false,
      control: {
        ready: (peer) => {
          if (runtime.control.ready) return
          runtime.control.ready = true
          this.setStatus(runtime, { ready: true })
          this.emit('control', name, { ...runtime.control })
          void this.safeRecord({
            service: name, pid: peer.pid, type: 'SERVICE_READY', severity: 'info', actor: 'service',
            description: `${name} reported READY=1 on its control socket`,
            metadata: { ...peerMetadata(peer), status: runtime.control.statusText },
          })
        },
        status: (text) => {
          runtime.control.statusText = text
          this.setStatus(runtime, { statusText: text })
          this.emit('control', name, { ...runtime.control })
        },
        watchdog: () => {
          runtime.control.watchdogAt = Date.now()
        },
        stopping: (peer) => this.logger.info(`${name} (pid ${peer.pid}) reported STOPPING=1`),
        rejected: (peer, reason) => {
          const now = Date.now()
          if (now - rejections.windowStartMs >= 60_000) Object.assign(rejections, { windowStartMs: now, recorded: 0 })
          if (rejections.recorded >= MAX_REJECTION_RECORDS_PER_MINUTE) {
            rejections.suppressed += 1
            return
          }
          rejections.recorded += 1
          const suppressed = rejections.suppressed
          rejections.suppressed = 0
          this.logger.warn(`rejected a connection to the control socket of ${name}: ${reason}`)
          void this.safeRecord({
            service: name, pid: peer?.pid ?? null, type: 'CONTROL_REJECTED', severity: 'medium', actor: 'supervisor',
            description: `rejected a connection to the control socket of ${name}: ${reason}`,
            metadata: { ...(peer === null ? {} : peerMetadata(peer)), reason, suppressedBefore: suppressed },
          })
        },
      },
    })
  }

  private async releaseNetwork(runtime: ServiceRuntime, network: ServiceNetwork): Promise<void> {
    try {
      await network.release()
    } catch (error) {
      this.logger.error(`releasing the network of ${runtime.name} failed: ${(error as Error).message}`)
    }
  }

  /** Returns what the service last reported on its control socket. */
  controlState(name: string): ControlState {
    return { ...this.runtime(name).control }
  }

  // ---- helpers ----

  private runtime(name: string): ServiceRuntime {
    const runtime = this.services.get(name)
    if (runtime === undefined) throw new ServiceNotFoundError(name, [...this.services.keys()])
    return runtime
  }

  private profile(runtime: ServiceRuntime): Profile {
    return profileOf(this.config, runtime.definition.profile)
  }

  private requireProcess(runtime: ServiceRuntime, action: string): void {
    const state = runtime.status.state
    if (runtime.exited === null || (state !== 'running' && state !== 'isolated')) {
      throw new InvalidStateError(`cannot ${action} "${runtime.name}": it is ${state}, not running`)
    }
  }

  private serialise<T>(runtime: ServiceRuntime, action: () => Promise<T>): Promise<T> {
    const result = runtime.queue.then(action, action)
    runtime.queue = result.catch(() => undefined)
    return result
  }

  private setStatus(runtime: ServiceRuntime, change: Partial<ServiceStatus>): void {
    Object.assign(runtime.status, change)
    this.emit('service', { ...runtime.status, command: [...runtime.status.command] })
  }

  private lifecycle(
    runtime: ServiceRuntime, type: string, severity: AuditInput['severity'], description: string, actor: string,
    metadata: Record<string, unknown> = {},
  ): AuditInput {
    return { service: runtime.name, pid: runtime.status.pid, type, severity, description, actor, metadata }
  }

  private async safeRecord(input: AuditInput): Promise<void> {
    try {
      await this.record(input)
    } catch (error) {
      this.logger.error(`audit record ${input.type} for ${input.service ?? 'supervisor'} failed: ${(error as Error).message}`)
    }
  }

  private emitMetrics(): void {
    const samples: ResourceSample[] = []
    for (const runtime of this.services.values()) {
      if (runtime.cgroup === null || runtime.exited === null) continue
      try {
        const sample = runtime.cgroup.sample()
        samples.push(sample)
        if (sample.oomKills > runtime.oomKills) {
          // A process other than the main one was OOM-killed; the main exit path records its own.
          const count = sample.oomKills - runtime.oomKills
          runtime.oomKills = sample.oomKills
          void this.safeRecord({
            service: runtime.name, pid: runtime.status.pid, type: 'OOM_KILL', severity: 'high', actor: 'supervisor',
            description: `${count} process(es) of ${runtime.name} killed for exceeding the memory limit`,
            metadata: { oomKills: sample.oomKills, memoryLimitBytes: sample.memoryLimitBytes },
          })
        }
      } catch (error) {
        this.logger.warn(`sampling the cgroup of ${runtime.name} failed: ${(error as Error).message}`)
      }
    }
    this.emit('metrics', samples)
  }

  private writeRunFile(runtime: ServiceRuntime, pid: number, uid: number, gid: number): void {
    try {
      writeRunState(this.dataDir, {
        service: runtime.name, pid, startTime: processStartTime(pid), uid, gid,
        profile: runtime.definition.profile, startedAt: new Date(runtime.startedAtMs).toISOString(),
        cgroup: runtime.cgroup?.dirs() ?? [], configPath: this.configPath,
      })
    } catch (error) {
      this.logger.warn(`writing the run file of ${runtime.name} failed: ${(error as Error).message}`)
    }
  }

  private removeParentCgroups(): void {
    const dirs = new Set([...Object.values(this.layout.v1), ...(this.layout.unified === null ? [] : [this.layout.unified])])
    if (listServiceCgroups(this.layout, this.cgroupParent).length > 0) return
    for (const mount of dirs) {
      try {
        rmdirSync(join(mount, this.cgroupParent))
      } catch {
        // Missing, or another supervisor still uses it.
      }
    }
  }
}

/** Returns a copy of the config whose profile `profileName` runs in `mode`; the original stays unchanged. */
function withEnforceMode(config: Config, profileName: string, mode: EnforceMode): Config {
  const profile = profileOf(config, profileName)
  return { ...config, profiles: { ...config.profiles, [profileName]: { ...profile, enforceMode: mode } } }
}

function newRuntime(name: string, definition: ServiceDefinition): ServiceRuntime {
  return {
    name,
    definition,
    status: initialStatus(name, definition),
    pidfd: null,
    notifier: null,
    cgroup: null,
    stopWatch: null,
    exited: null,
    intent: null,
    reaped: false,
    netCuts: new Set(),
    network: null,
    control: { ready: false, statusText: null, watchdogAt: null },
    restartTimer: null,
    backoffMs: MIN_BACKOFF_MS,
    startedAtMs: 0,
    oomKills: 0,
    modeOverride: null,
    queue: Promise.resolve(),
  }
}

function initialStatus(name: string, definition: ServiceDefinition): ServiceStatus {
  return {
    name, profile: definition.profile, state: 'stopped', pid: null, uid: null, gid: null, blocked: false,
    startedAt: null, exitCode: null, exitSignal: null, restarts: 0, lastError: null,
    command: [definition.command, ...definition.args], ready: false, statusText: null, enforceMode: null,
  }
}

/** Hashes the typed profile (canonical JSON), so a record names the exact policy a process ran under. */
export function profileSha256(profile: Profile): string {
  // The JSON round trip drops undefined fields, which canonicalJson rejects.
  const plain: unknown = JSON.parse(JSON.stringify(profile))
  return createHash('sha256').update(canonicalJson(plain)).digest('hex')
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
  }
}
