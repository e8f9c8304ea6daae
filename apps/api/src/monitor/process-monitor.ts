// Process tree of each sandbox: fork, exec and exit. The proc connector
// (NETLINK_CONNECTOR, CN_IDX_PROC) reports every process on the host as it
// happens, and events are kept for pids that belong to a monitored service.
// Without the connector, the monitor polls each service's cgroup.procs and
// diffs. Polling detects a process only when it lives across a poll, and it
// cannot tell a fork from an exec.

import { readFileSync } from 'node:fs'
import { quietMonitorLogger, RecordGate, type Monitor, type MonitorLogger, type MonitorStats, type RecordFn } from './common.js'
import { loadMonitorAddon, type AddonResult, type NetlinkReader, type NetlinkReaderStats, type ProcItem } from './native.js'
import { ServiceResolver, type ServiceSource } from './services.js'

export interface ProcessInfo {
  pid: number
  ppid: number
  /** Real uid, null when /proc could not be read. */
  uid: number | null
  /** argv from /proc/PID/cmdline, cut at maxCommandLength bytes; `[comm]` when cmdline is empty. */
  command: string[]
}

export interface ProcessNode extends ProcessInfo {
  children: ProcessNode[]
}

export interface ProcessMonitorOptions {
  record: RecordFn
  services: ServiceSource | ServiceResolver
  logger?: MonitorLogger
  addon?: AddonResult
  /** 'poll' skips the proc connector (default 'auto': connector when available). */
  mode?: 'auto' | 'poll'
  /** Milliseconds between cgroup.procs reads (default 1000). */
  intervalMs?: number
  /** Bytes of command line kept per process (default 4096). */
  maxCommandLength?: number
  /** PROCESS_FORK records per service per second; further forks are only counted (default 5). */
  forkSamplesPerSecond?: number
  /** Records per service per second before further events are only counted (default 50). */
  maxRecordsPerSecond?: number
}

export interface ProcessMonitorStats extends MonitorStats {
  mode: 'proc-connector' | 'poll' | 'stopped'
  /** Reason the proc connector is not used; null when it is. */
  fallbackReason: string | null
  /** Forks seen per service, recorded or not. */
  forks: Record<string, number>
  /** Socket buffer overflows of the proc connector: events were lost, their number is unknown. */
  overruns: number
  /** Counters of the native reader; null when polling. */
  reader: NetlinkReaderStats | null
}

interface ServiceProcesses {
  mainPid: number
  processes: Map<number, ProcessInfo>
  forks: number
  forkSecond: number
  forksThisSecond: number
  /** Pids gone from cgroup.procs whose exit event has not arrived, with the time they were first missed. */
  missingSince: Map<number, number>
}

const EXIT_EVENT_GRACE_MS = 1000

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

/** Reads ppid, real uid and command line of a pid; returns null when it is gone. */
export function readProcessInfo(pid: number, maxCommandLength = 4096): ProcessInfo | null {
  const stat = readText(`/proc/${pid}/stat`)
  if (stat === null) return null
  // comm may contain spaces and parentheses, so fields are counted from the last ')'.
  const close = stat.lastIndexOf(')')
  const comm = stat.slice(stat.indexOf('(') + 1, close)
  const ppid = Number(stat.slice(close + 2).split(' ')[1])
  const status = readText(`/proc/${pid}/status`)
  const uidLine = status?.split('\n').find((line) => line.startsWith('Uid:'))
  const uid = uidLine === undefined ? null : Number(uidLine.split(/\s+/)[1])
  return { pid, ppid, uid, command: readCommand(pid, maxCommandLength) ?? [`[${comm}]`] }
}

function readCommand(pid: number, maxLength: number): string[] | null {
  let buffer: Buffer
  try {
    buffer = readFileSync(`/proc/${pid}/cmdline`)
  } catch {
    return null
  }
  if (buffer.length === 0) return null
  return splitCommandLine(buffer, maxLength)
}

/** Splits NUL-separated /proc/PID/cmdline bytes into arguments, keeping at most maxLength bytes. */
export function splitCommandLine(buffer: Buffer, maxLength: number): string[] {
  const args = buffer.subarray(0, maxLength).toString('utf8').split('\0')
  if (args[args.length - 1] === '') args.pop()
  return args
}

/** Splits a wait status (as the proc connector's exit_code) into exit code and signal. */
export function decodeWaitStatus(status: number): { code: number | null; signal: number | null } {
  const signal = status & 0x7f
  return signal === 0 ? { code: (status >> 8) & 0xff, signal: null } : { code: null, signal }
}

/** Records PROCESS_EXEC, sampled PROCESS_FORK and PROCESS_EXIT for processes of monitored services. */
export class ProcessMonitor implements Monitor {
  private readonly resolver: ServiceResolver
  private readonly gate: RecordGate
  private readonly logger: MonitorLogger
  private readonly addonResult: AddonResult | undefined
  private readonly mode: 'auto' | 'poll'
  private readonly intervalMs: number
  private readonly maxCommandLength: number
  private readonly forkSamplesPerSecond: number
  private readonly services = new Map<string, ServiceProcesses>()
  private readonly owners = new Map<number, string>()
  private readonly forkCounts = new Map<string, number>()
  private reader: NetlinkReader | null = null
  private timer: NodeJS.Timeout | null = null
  private fallbackReason: string | null = null
  private overruns = 0

  constructor(options: ProcessMonitorOptions) {
    this.resolver = options.services instanceof ServiceResolver ? options.services : new ServiceResolver(options.services)
    this.logger = options.logger ?? quietMonitorLogger
    this.gate = new RecordGate(options.record, this.logger, options.maxRecordsPerSecond ?? 50)
    this.addonResult = options.addon
    this.mode = options.mode ?? 'auto'
    this.intervalMs = options.intervalMs ?? 1000
    this.maxCommandLength = options.maxCommandLength ?? 4096
    this.forkSamplesPerSecond = options.forkSamplesPerSecond ?? 5
  }

  start(): void {
    if (this.timer !== null) return
    if (this.mode === 'poll') {
      this.fallbackReason = 'polling was requested'
    } else {
      this.startConnector()
    }
    this.poll()
    this.timer = setInterval(() => this.poll(), this.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.reader?.close()
    this.reader = null
  }

  stats(): ProcessMonitorStats {
    let mode: ProcessMonitorStats['mode'] = 'stopped'
    if (this.timer !== null) mode = this.reader !== null ? 'proc-connector' : 'poll'
    return {
      ...this.gate.stats(true, null, this.timer !== null),
      mode,
      fallbackReason: this.fallbackReason,
      forks: Object.fromEntries(this.forkCounts),
      overruns: this.overruns,
      reader: this.reader?.stats() ?? null,
    }
  }

  /** Returns the current process tree of a service (roots first), or null for a service not running. */
  tree(service: string): ProcessNode[] | null {
    const state = this.services.get(service)
    if (state === undefined) return null
    const nodes = new Map<number, ProcessNode>()
    for (const info of state.processes.values()) nodes.set(info.pid, { ...info, command: [...info.command], children: [] })
    const roots: ProcessNode[] = []
    for (const node of [...nodes.values()].sort((a, b) => a.pid - b.pid)) {
      const parent = nodes.get(node.ppid)
      if (parent !== undefined && node.pid !== state.mainPid) parent.children.push(node)
      else roots.push(node)
    }
    return roots
  }

  /** Rereads the services and each one's cgroup.procs; in poll mode the differences become records. */
  poll(now = Date.now()): void {
    const running = this.resolver.refresh()
    const names = new Set(running.map((service) => service.name))
    for (const [name, state] of this.services) {
      if (names.has(name)) continue
      for (const pid of state.processes.keys()) this.owners.delete(pid)
      this.services.delete(name)
    }
    for (const service of running) {
      let state = this.services.get(service.name)
      const firstSight = state === undefined || state.mainPid !== service.pid
      if (state === undefined || firstSight) {
        if (state !== undefined) for (const pid of state.processes.keys()) this.owners.delete(pid)
        state = { mainPid: service.pid, processes: new Map(), forks: 0, forkSecond: 0, forksThisSecond: 0, missingSince: new Map() }
        this.services.set(service.name, state)
      }
      this.reconcile(service.name, state, !firstSight && this.reader === null, now)
    }
  }

  private startConnector(): void {
    const loaded = this.addonResult ?? loadMonitorAddon()
    if (loaded.addon === null) {
      this.fallbackReason = loaded.reason
      this.logger.warn(`process monitor polls cgroup.procs: ${loaded.reason}`)
      return
    }
    try {
      this.reader = new loaded.addon.NetlinkReader('proc', {
        maxQueue: 1024,
        onBatch: (items, dropped, overruns) => this.onBatch(items, dropped, overruns),
      })
      this.fallbackReason = null
    } catch (error) {
      this.fallbackReason = `the proc connector failed: ${(error as Error).message}`
      this.logger.warn(`process monitor polls cgroup.procs: ${this.fallbackReason}`)
    }
  }

  private reconcile(name: string, state: ServiceProcesses, report: boolean, now: number): void {
    const pids = new Set(this.resolver.pidsOf(name))
    for (const [pid, info] of state.processes) {
      if (pids.has(pid)) {
        state.missingSince.delete(pid)
        continue
      }
      // With the connector, the exit event of a pid gone from cgroup.procs
      // may still be on its way in a batch, so the pid gets a grace period first.
      if (this.reader !== null) {
        const since = state.missingSince.get(pid)
        if (since === undefined) state.missingSince.set(pid, now)
        if (since === undefined || now - since < EXIT_EVENT_GRACE_MS) continue
      }
      state.missingSince.delete(pid)
      state.processes.delete(pid)
      this.owners.delete(pid)
      if (report || this.reader !== null) this.recordExit(name, info, null, now)
    }
    for (const pid of pids) {
      const known = state.processes.get(pid)
      if (known !== undefined && !report) continue
      const info = readProcessInfo(pid, this.maxCommandLength)
      if (info === null) continue
      state.processes.set(pid, info)
      this.owners.set(pid, name)
      // A new pid and a changed command line are both reported as an exec.
      if (report && (known === undefined || known.command.join('\0') !== info.command.join('\0'))) {
        this.recordExec(name, info, 'poll', now)
      }
    }
  }

  private onBatch(items: ProcItem[], dropped: number, overruns: number): void {
    this.gate.drop(null, dropped)
    if (overruns > 0) {
      this.overruns += overruns
      this.logger.warn(`the proc connector socket overflowed ${overruns} time(s); process events were lost`)
    }
    let refreshed = false
    const ownerOf = (pid: number): string | null => {
      const owner = this.owners.get(pid)
      if (owner !== undefined) return owner
      if (!refreshed) {
        this.resolver.refresh()
        refreshed = true
      }
      const name = this.resolver.serviceOf(pid)
      if (name === null) return null
      // A service that started after the last poll.
      const service = this.resolver.get(name)!
      const state = this.services.get(name)
      if (state === undefined || state.mainPid !== service.pid) {
        this.services.set(name, { mainPid: service.pid, processes: new Map(), forks: 0, forkSecond: 0, forksThisSecond: 0, missingSince: new Map() })
      }
      return name
    }
    for (const item of items) {
      if (item.what === 'fork') this.onFork(item, ownerOf)
      else if (item.what === 'exec') this.onExec(item, ownerOf)
      else this.onExit(item)
    }
  }

  private onFork(item: ProcItem, ownerOf: (pid: number) => string | null): void {
    const parent = item.parentTgid ?? 0
    const name = this.owners.get(parent) ?? ownerOf(item.pid)
    if (name === null) return
    const state = this.services.get(name)!
    const parentInfo = state.processes.get(parent)
    const info = readProcessInfo(item.pid, this.maxCommandLength) ?? {
      pid: item.pid, ppid: parent, uid: parentInfo?.uid ?? null, command: parentInfo?.command ?? [],
    }
    state.processes.set(item.pid, info)
    this.owners.set(item.pid, name)
    // The supervisor's clone of the service's main process is the start, not a fork inside the sandbox.
    const parentOwner = this.owners.get(parent) ?? this.resolver.serviceOf(parent)
    if (parentOwner !== name) return
    state.forks += 1
    this.forkCounts.set(name, state.forks)
    const second = Math.floor(item.time / 1000)
    if (state.forkSecond !== second) {
      state.forkSecond = second
      state.forksThisSecond = 0
    }
    state.forksThisSecond += 1
    if (state.forksThisSecond > this.forkSamplesPerSecond) return
    this.gate.emit({
      service: name, pid: item.pid, type: 'PROCESS_FORK', severity: 'info', actor: 'supervisor',
      description: `${name}: pid ${parent} forked pid ${item.pid}`,
      metadata: { parentPid: parent, command: info.command, forks: state.forks, sampled: true },
    }, item.time)
  }

  private onExec(item: ProcItem, ownerOf: (pid: number) => string | null): void {
    const name = ownerOf(item.pid)
    if (name === null) return
    const state = this.services.get(name)!
    const info = readProcessInfo(item.pid, this.maxCommandLength)
    const known = state.processes.get(item.pid)
    // The reader's copy of the command line was taken as the event arrived,
    // so it also names programs that exited before this batch.
    const command = item.cmdline !== undefined && item.cmdline.length > 0 ? splitCommandLine(item.cmdline, this.maxCommandLength) : null
    const current: ProcessInfo = {
      pid: item.pid,
      ppid: info?.ppid ?? item.parentTgid ?? known?.ppid ?? 0,
      uid: info?.uid ?? known?.uid ?? null,
      command: command ?? info?.command ?? [],
    }
    state.processes.set(item.pid, current)
    this.owners.set(item.pid, name)
    this.recordExec(name, current, 'proc-connector', item.time)
  }

  private onExit(item: ProcItem): void {
    const name = this.owners.get(item.pid)
    if (name === undefined) return
    this.owners.delete(item.pid)
    const state = this.services.get(name)
    const info = state?.processes.get(item.pid)
    state?.processes.delete(item.pid)
    state?.missingSince.delete(item.pid)
    this.recordExit(name, info ?? { pid: item.pid, ppid: item.parentTgid ?? 0, uid: null, command: [] }, item.exitCode ?? null, item.time)
  }

  private recordExec(name: string, info: ProcessInfo, source: 'poll' | 'proc-connector', now: number): void {
    const command = info.command.length > 0 ? info.command.join(' ') : '(command line unavailable)'
    this.gate.emit({
      service: name, pid: info.pid, type: 'PROCESS_EXEC', severity: 'info', actor: 'supervisor',
      description: `${name}: pid ${info.pid} runs ${command}`,
      metadata: { command: info.command, ppid: info.ppid, uid: info.uid, source },
    }, now)
  }

  private recordExit(name: string, info: ProcessInfo, waitStatus: number | null, now: number): void {
    const decoded = waitStatus === null ? { code: null, signal: null } : decodeWaitStatus(waitStatus)
    let how = 'exited'
    if (decoded.signal !== null) how = `was killed by signal ${decoded.signal}`
    else if (decoded.code !== null) how = `exited with code ${decoded.code}`
    this.gate.emit({
      service: name, pid: info.pid, type: 'PROCESS_EXIT', severity: 'info', actor: 'supervisor',
      description: `${name}: pid ${info.pid} ${how}`,
      metadata: { command: info.command, ppid: info.ppid, exitCode: decoded.code, signal: decoded.signal },
    }, now)
  }
}
