// Service cgroups on cgroup v1, v2 and hybrid hosts.
//
// A hybrid host mounts some controllers as v1 hierarchies next to a cgroup2
// mount that may offer other controllers or none. Each controller is taken
// from v2 when the unified hierarchy offers it, otherwise from its v1 mount.
// So one ServiceCgroup may span several hierarchies. It keeps one leaf
// folder per hierarchy, and the launcher writes the child's pid into the
// cgroup.procs file of each.

import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { ResourceSample } from '../types.js'
import { CgroupError } from './errors.js'

/** Controllers the supervisor uses. `cpuacct` exists only on v1, which accounts CPU time there. */
export type Controller = 'memory' | 'pids' | 'cpu' | 'cpuacct' | 'freezer'

export const CONTROLLERS: readonly Controller[] = ['memory', 'pids', 'cpu', 'cpuacct', 'freezer']

// Names the kernel accepts as v1 subsystems; other mount options such as
// `rw`, `name=systemd` or `xattr` are not controllers.
const V1_SUBSYSTEMS = new Set([
  'blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'hugetlb', 'memory',
  'misc', 'net_cls', 'net_prio', 'perf_event', 'pids', 'rdma',
])

export interface CgroupLayout {
  /** 'hybrid' when v1 controllers and a cgroup2 mount coexist, 'none' when neither is mounted. */
  kind: 'v1' | 'v2' | 'hybrid' | 'none'
  /** Mount point of the cgroup2 hierarchy; null when there is none. */
  unified: string | null
  /** Controllers listed in the cgroup2 root's cgroup.controllers. */
  unifiedControllers: string[]
  /** v1 controller name to mount point; co-mounted controllers share one. */
  v1: Record<string, string>
}

interface MountEntry {
  mountPoint: string
  fsType: string
  superOptions: string[]
}

// mountinfo escapes space, tab, newline and backslash as octal (\040 etc.).
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
}

/** Parses /proc/self/mountinfo text into the cgroup mounts it lists. */
export function parseCgroupMounts(mountinfo: string): MountEntry[] {
  const mounts: MountEntry[] = []
  for (const line of mountinfo.split('\n')) {
    const fields = line.trim().split(' ')
    // Optional fields end at a lone '-'; the file system type follows it.
    const separator = fields.indexOf('-')
    if (separator < 6 || fields.length < separator + 4) continue
    const fsType = fields[separator + 1]!
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue
    mounts.push({
      mountPoint: unescapeMountPath(fields[4]!),
      fsType,
      superOptions: fields[separator + 3]!.split(','),
    })
  }
  return mounts
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

/**
 * Detects the cgroup layout from mountinfo text (by default the running
 * process's own) and, for a cgroup2 mount, the controllers its root offers.
 */
export function detectLayout(mountinfo?: string): CgroupLayout {
  const text = mountinfo ?? readFileSync('/proc/self/mountinfo', 'utf8')
  const layout: CgroupLayout = { kind: 'none', unified: null, unifiedControllers: [], v1: {} }
  for (const mount of parseCgroupMounts(text)) {
    if (mount.fsType === 'cgroup2') {
      if (layout.unified !== null) continue
      layout.unified = mount.mountPoint
      const controllers = readText(join(mount.mountPoint, 'cgroup.controllers')) ?? ''
      layout.unifiedControllers = controllers.split(/\s+/).filter((name) => name !== '')
      continue
    }
    for (const option of mount.superOptions) {
      if (V1_SUBSYSTEMS.has(option) && layout.v1[option] === undefined) {
        layout.v1[option] = mount.mountPoint
      }
    }
  }
  const hasV1 = Object.keys(layout.v1).length > 0
  if (hasV1 && layout.unified !== null) layout.kind = 'hybrid'
  else if (hasV1) layout.kind = 'v1'
  else if (layout.unified !== null) layout.kind = 'v2'
  return layout
}

/** The cgroup version and hierarchy mount point that serve one controller. */
export interface Placement {
  version: 1 | 2
  mountPoint: string
}

/**
 * Chooses a hierarchy per controller: v2 when the unified root offers it,
 * else its v1 mount. The v2 freezer is part of the cgroup2 core (no
 * controller to enable), so it is used only when no v1 freezer is mounted.
 * On v2, CPU time is read from cpu.stat, which needs no controller either.
 */
export function placeControllers(layout: CgroupLayout): Partial<Record<Controller, Placement>> {
  const placements: Partial<Record<Controller, Placement>> = {}
  for (const controller of CONTROLLERS) {
    const v1Mount = layout.v1[controller]
    if (layout.unified !== null && layout.unifiedControllers.includes(controller)) {
      placements[controller] = { version: 2, mountPoint: layout.unified }
    } else if (v1Mount !== undefined) {
      placements[controller] = { version: 1, mountPoint: v1Mount }
    }
  }
  if (placements.freezer === undefined && layout.unified !== null) {
    placements.freezer = { version: 2, mountPoint: layout.unified }
  }
  if (placements.cpuacct === undefined && layout.unified !== null) {
    placements.cpuacct = { version: 2, mountPoint: layout.unified }
  }
  return placements
}

export interface CgroupLimits {
  /** Bytes; null leaves memory unlimited. */
  memoryBytes: number | null
  /** Max tasks (processes and threads); null leaves it unlimited. */
  pids: number | null
  /** CPUs as a fraction, 0.5 is half of one CPU; null leaves it unlimited. */
  cpus: number | null
}

export interface ServiceCgroupOptions {
  layout?: CgroupLayout
  /**
   * Parent cgroup of every service, relative to each hierarchy's mount
   * point; created on first use and left in place for the next service.
   */
  parent?: string
  /** Max wait for a freeze to take effect, in milliseconds. */
  freezeTimeoutMs?: number
  /** Max time killAll and remove keep retrying, in milliseconds. */
  killTimeoutMs?: number
}

// Max wait for the freeze in each killAll round on v1, in milliseconds.
const KILL_FREEZE_TIMEOUT_MS = 200

// CFS period for CPU quotas: 100 ms, the kernel's default period.
const CPU_PERIOD_US = 100_000

// v1 reports "no memory limit" as a page-aligned LONG_MAX; anything from
// 2^62 up is read as unlimited.
const V1_UNLIMITED = 2 ** 62

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/

/**
 * The cgroup of one service (`<parent>/<service>` in each hierarchy it uses):
 * limits, freeze and thaw, kill, resource samples and removal.
 */
export class ServiceCgroup {
  readonly name: string
  readonly layout: CgroupLayout
  readonly parent: string
  private readonly placements: Partial<Record<Controller, Placement>>
  private readonly freezeTimeoutMs: number
  private readonly killTimeoutMs: number
  private lastCpu: { usageUsec: number; time: number } | null = null

  constructor(name: string, options: ServiceCgroupOptions = {}) {
    if (!SERVICE_NAME.test(name)) {
      throw new CgroupError(`invalid cgroup name "${name}": use letters, digits, '.', '_' and '-'`)
    }
    this.name = name
    this.layout = options.layout ?? detectLayout()
    this.parent = (options.parent ?? 'blackhole').replace(/^\/+|\/+$/g, '')
    if (this.parent === '' || this.parent.split('/').includes('..')) {
      throw new CgroupError(`invalid cgroup parent "${options.parent}": use a relative path without ".."`)
    }
    this.placements = placeControllers(this.layout)
    this.freezeTimeoutMs = options.freezeTimeoutMs ?? 5000
    this.killTimeoutMs = options.killTimeoutMs ?? 5000
    if (this.placements.pids === undefined && this.placements.memory === undefined) {
      throw new CgroupError(
        `no usable cgroup hierarchy for "${name}": neither the memory nor the pids controller ` +
          'is mounted; mount cgroup2 at /sys/fs/cgroup or the v1 controllers under it',
      )
    }
  }

  /** Returns the leaf folder of a controller, or null when the host lacks it. */
  dirOf(controller: Controller): string | null {
    const placement = this.placements[controller]
    return placement === undefined ? null : join(placement.mountPoint, this.parent, this.name)
  }

  versionOf(controller: Controller): 1 | 2 | null {
    return this.placements[controller]?.version ?? null
  }

  /** Returns every leaf folder, one per hierarchy used. */
  dirs(): string[] {
    const mounts = new Set<string>()
    for (const placement of Object.values(this.placements)) mounts.add(placement.mountPoint)
    return [...mounts].map((mount) => join(mount, this.parent, this.name))
  }

  /** Returns the cgroup.procs files the launcher writes the child's pid into. */
  procsFiles(): string[] {
    return this.dirs().map((dir) => join(dir, 'cgroup.procs'))
  }

  /**
   * Creates the leaf in every hierarchy (and the parent on first use). On v2
   * it enables the used controllers in each ancestor's subtree_control.
   * Throws when a leaf already contains processes, because those may belong to
   * a service a previous supervisor left running.
   */
  create(): void {
    if (this.layout.unified !== null && this.dirs().some((dir) => dir.startsWith(this.layout.unified!))) {
      this.enableV2Controllers()
    }
    for (const dir of this.dirs()) {
      try {
        mkdirSync(dir, { recursive: true })
      } catch (error) {
        throw new CgroupError(`cannot create cgroup ${dir}: ${describe(error)}`, { cause: error })
      }
      const pids = readPids(dir)
      if (pids.length > 0) {
        throw new CgroupError(
          `cgroup ${dir} already contains processes ${pids.join(', ')}; a previous run of ` +
            `"${this.name}" may still be running: stop it or kill those pids first`,
        )
      }
    }
  }

  private enableV2Controllers(): void {
    const unified = this.layout.unified!
    const wanted = CONTROLLERS.filter((controller) => this.placements[controller]?.version === 2)
      .filter((controller) => this.layout.unifiedControllers.includes(controller))
    if (wanted.length === 0) return
    let dir = unified
    for (const segment of [...this.parent.split('/'), this.name]) {
      mkdirSync(dir, { recursive: true })
      const enabled = (readText(join(dir, 'cgroup.subtree_control')) ?? '').split(/\s+/)
      const missing = wanted.filter((controller) => !enabled.includes(controller))
      if (missing.length > 0) {
        writeControl(join(dir, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '))
      }
      dir = join(dir, segment)
    }
  }

  /** Applies memory, pids and CPU limits; a null value sets no limit. */
  setLimits(limits: CgroupLimits): void {
    this.setMemoryLimit(limits.memoryBytes)
    this.setPidsLimit(limits.pids)
    this.setCpuLimit(limits.cpus)
  }

  private setMemoryLimit(bytes: number | null): void {
    const dir = this.dirOf('memory')
    if (dir === null) {
      if (bytes !== null) throw new CgroupError(`cannot limit memory of "${this.name}": no memory controller`)
      return
    }
    if (this.versionOf('memory') === 2) {
      writeControl(join(dir, 'memory.max'), bytes === null ? 'max' : String(bytes))
      // Without swap.max=0 a service could page out past its limit.
      if (existsSync(join(dir, 'memory.swap.max'))) writeControl(join(dir, 'memory.swap.max'), '0')
      return
    }
    const value = bytes === null ? '-1' : String(bytes)
    const memsw = join(dir, 'memory.memsw.limit_in_bytes')
    // memsw must stay >= the memory limit, so the order depends on the direction.
    if (existsSync(memsw) && bytes !== null) {
      writeControl(join(dir, 'memory.limit_in_bytes'), value)
      writeControl(memsw, value)
    } else {
      if (existsSync(memsw)) writeControl(memsw, value)
      writeControl(join(dir, 'memory.limit_in_bytes'), value)
    }
  }

  private setPidsLimit(max: number | null): void {
    const dir = this.dirOf('pids')
    if (dir === null) {
      if (max !== null) throw new CgroupError(`cannot limit processes of "${this.name}": no pids controller`)
      return
    }
    writeControl(join(dir, 'pids.max'), max === null ? 'max' : String(max))
  }

  private setCpuLimit(cpus: number | null): void {
    const dir = this.dirOf('cpu')
    if (dir === null) {
      if (cpus !== null) throw new CgroupError(`cannot limit CPU of "${this.name}": no cpu controller`)
      return
    }
    // The kernel rejects quotas under 1 ms.
    const quota = cpus === null ? null : Math.max(1000, Math.round(cpus * CPU_PERIOD_US))
    if (this.versionOf('cpu') === 2) {
      writeControl(join(dir, 'cpu.max'), `${quota ?? 'max'} ${CPU_PERIOD_US}`)
      return
    }
    writeControl(join(dir, 'cpu.cfs_period_us'), String(CPU_PERIOD_US))
    writeControl(join(dir, 'cpu.cfs_quota_us'), String(quota ?? -1))
  }

  /** Reads the pids in the cgroup from the pids hierarchy (or any other used). */
  pids(): number[] {
    const dir = this.dirOf('pids') ?? this.dirOf('freezer') ?? this.dirs()[0]
    return dir === undefined ? [] : readPids(dir)
  }

  /** Stops every task in the cgroup and waits until the kernel reports it frozen. */
  async freeze(timeoutMs = this.freezeTimeoutMs): Promise<void> {
    const dir = this.requireDir('freezer', 'freeze')
    if (this.versionOf('freezer') === 2) {
      writeControl(join(dir, 'cgroup.freeze'), '1')
      await this.waitFor(() => readKeyed(join(dir, 'cgroup.events')).frozen === 1, 'frozen 1 in cgroup.events', timeoutMs)
      return
    }
    writeControl(join(dir, 'freezer.state'), 'FROZEN')
    // freezer.state reads FREEZING until every task has stopped.
    await this.waitFor(() => readText(join(dir, 'freezer.state'))?.trim() === 'FROZEN', 'freezer.state FROZEN', timeoutMs)
  }

  async thaw(): Promise<void> {
    const dir = this.requireDir('freezer', 'thaw')
    if (this.versionOf('freezer') === 2) {
      writeControl(join(dir, 'cgroup.freeze'), '0')
      await this.waitFor(() => readKeyed(join(dir, 'cgroup.events')).frozen !== 1, 'frozen 0 in cgroup.events')
      return
    }
    writeControl(join(dir, 'freezer.state'), 'THAWED')
    await this.waitFor(() => readText(join(dir, 'freezer.state'))?.trim() === 'THAWED', 'freezer.state THAWED')
  }

  isFrozen(): boolean {
    const dir = this.dirOf('freezer')
    if (dir === null) return false
    if (this.versionOf('freezer') === 2) return readKeyed(join(dir, 'cgroup.events')).frozen === 1
    return readText(join(dir, 'freezer.state'))?.trim() === 'FROZEN'
  }

  /**
   * Kills every process in the cgroup and waits until it is empty. v2 uses
   * cgroup.kill. v1 has no such file, so this freezes the cgroup, sends
   * SIGKILL to every pid and thaws so the signals are delivered. While
   * frozen no task can fork or exit, so the pid list is stable and no pid is
   * reused. It repeats until cgroup.procs is empty or killTimeoutMs passed.
   */
  async killAll(): Promise<void> {
    const v2Dir = this.dirs().find((dir) => existsSync(join(dir, 'cgroup.kill')))
    if (v2Dir !== undefined) {
      writeControl(join(v2Dir, 'cgroup.kill'), '1')
      await this.waitFor(() => this.pids().length === 0, 'an empty cgroup.procs')
      return
    }
    const deadline = Date.now() + this.killTimeoutMs
    const canFreeze = this.dirOf('freezer') !== null
    while (this.pids().length > 0) {
      if (Date.now() > deadline) {
        throw new CgroupError(
          `cgroup of "${this.name}" still contains pids ${this.pids().join(', ')} after ` +
            `${this.killTimeoutMs} ms of SIGKILL`,
        )
      }
      // A task in the middle of exiting (such as a namespace's init waiting
      // for its children) keeps v1 at FREEZING, so the wait is short and
      // the kill goes ahead on a partly frozen cgroup.
      if (canFreeze) await this.freeze(KILL_FREEZE_TIMEOUT_MS).catch(() => undefined)
      for (const pid of this.pids()) killQuietly(pid)
      if (canFreeze) await this.thaw().catch(() => undefined)
      await sleep(10)
    }
  }

  /**
   * Reads memory, CPU, pids and OOM kills. cpuPercent covers the time since
   * the previous sample (0 on the first).
   */
  sample(now = Date.now()): ResourceSample {
    const memoryDir = this.dirOf('memory')
    const pidsDir = this.dirOf('pids')
    let memoryBytes = 0
    let memoryLimitBytes: number | null = null
    let oomKills = 0
    if (memoryDir !== null && this.versionOf('memory') === 2) {
      memoryBytes = readNumber(join(memoryDir, 'memory.current')) ?? 0
      memoryLimitBytes = readNumber(join(memoryDir, 'memory.max'))
      oomKills = readKeyed(join(memoryDir, 'memory.events')).oom_kill ?? 0
    } else if (memoryDir !== null) {
      memoryBytes = readNumber(join(memoryDir, 'memory.usage_in_bytes')) ?? 0
      const limit = readNumber(join(memoryDir, 'memory.limit_in_bytes'))
      memoryLimitBytes = limit === null || limit >= V1_UNLIMITED ? null : limit
      oomKills = readKeyed(join(memoryDir, 'memory.oom_control')).oom_kill ?? 0
    }
    const usageUsec = this.readCpuUsageUsec()
    let cpuPercent = 0
    if (this.lastCpu !== null && now > this.lastCpu.time) {
      const elapsedUsec = (now - this.lastCpu.time) * 1000
      cpuPercent = Math.max(0, ((usageUsec - this.lastCpu.usageUsec) / elapsedUsec) * 100)
    }
    this.lastCpu = { usageUsec, time: now }
    return {
      service: this.name,
      time: now,
      cpuPercent: Math.round(cpuPercent * 10) / 10,
      memoryBytes,
      memoryLimitBytes,
      pids: pidsDir === null ? this.pids().length : readNumber(join(pidsDir, 'pids.current')) ?? 0,
      pidsLimit: pidsDir === null ? null : readNumber(join(pidsDir, 'pids.max')),
      oomKills,
    }
  }

  /** Reads the count of OOM kills so far in this cgroup. */
  oomKills(): number {
    const dir = this.dirOf('memory')
    if (dir === null) return 0
    const file = this.versionOf('memory') === 2 ? 'memory.events' : 'memory.oom_control'
    return readKeyed(join(dir, file)).oom_kill ?? 0
  }

  /** Reads how many forks the pids limit has rejected (the `max` count in pids.events). */
  forkRejections(): number {
    const dir = this.dirOf('pids')
    return dir === null ? 0 : readKeyed(join(dir, 'pids.events')).max ?? 0
  }

  private readCpuUsageUsec(): number {
    const dir = this.dirOf('cpuacct')
    if (dir === null) return 0
    if (this.versionOf('cpuacct') === 2) return readKeyed(join(dir, 'cpu.stat')).usage_usec ?? 0
    // cpuacct.usage is in nanoseconds.
    return (readNumber(join(dir, 'cpuacct.usage')) ?? 0) / 1000
  }

  /**
   * Removes every leaf. A leaf can only go once its last task has exited,
   * so this kills what is left and retries rmdir on EBUSY until
   * killTimeoutMs has passed. A leaf that is already gone counts as removed.
   */
  async remove(): Promise<void> {
    if (this.pids().length > 0) await this.killAll()
    const deadline = Date.now() + this.killTimeoutMs
    for (const dir of this.dirs()) {
      for (;;) {
        try {
          rmdirSync(dir)
          break
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code
          if (code === 'ENOENT') break
          if (code !== 'EBUSY' || Date.now() > deadline) {
            throw new CgroupError(`cannot remove cgroup ${dir}: ${describe(error)}`, { cause: error })
          }
          await sleep(20)
        }
      }
    }
  }

  /** True when any leaf folder still exists. */
  exists(): boolean {
    return this.dirs().some((dir) => existsSync(dir))
  }

  private requireDir(controller: Controller, action: string): string {
    const dir = this.dirOf(controller)
    if (dir === null) throw new CgroupError(`cannot ${action} "${this.name}": no ${controller} controller`)
    return dir
  }

  private async waitFor(condition: () => boolean, what: string, timeoutMs = this.freezeTimeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs
    let delay = 1
    while (!condition()) {
      if (Date.now() > deadline) {
        throw new CgroupError(`timed out after ${timeoutMs} ms waiting for ${what} in cgroup "${this.name}"`)
      }
      await sleep(delay)
      delay = Math.min(delay * 2, 50)
    }
  }
}

// The kernel creates a cgroup's control files with the folder, so a missing
// file means a controller is not enabled there: report it instead of
// creating a stray regular file.
function writeControl(path: string, value: string): void {
  if (!existsSync(path)) {
    throw new CgroupError(`cannot write "${value}" to ${path}: the file is missing; is its controller enabled?`)
  }
  try {
    writeFileSync(path, value)
  } catch (error) {
    throw new CgroupError(`cannot write "${value}" to ${path}: ${describe(error)}`, { cause: error })
  }
}

function readPids(dir: string): number[] {
  const text = readText(join(dir, 'cgroup.procs')) ?? ''
  return text.split('\n').filter((line) => line !== '').map(Number)
}

function readNumber(path: string): number | null {
  const text = readText(path)?.trim()
  if (text === undefined || text === '' || text === 'max') return null
  const value = Number(text)
  return Number.isFinite(value) ? value : null
}

/** Reads a flat keyed file such as cgroup.events or cpu.stat (`key value` per line). */
function readKeyed(path: string): Record<string, number> {
  const values: Record<string, number> = {}
  for (const line of (readText(path) ?? '').split('\n')) {
    const [key, value] = line.trim().split(/\s+/)
    if (key !== undefined && key !== '' && value !== undefined) values[key] = Number(value)
  }
  return values
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Lists the service cgroups under a parent in every hierarchy, for cleanup and diagnostics. */
export function listServiceCgroups(layout: CgroupLayout, parent = 'blackhole'): string[] {
  const mounts = new Set<string>([...Object.values(layout.v1), ...(layout.unified === null ? [] : [layout.unified])])
  const found: string[] = []
  for (const mount of mounts) {
    const dir = join(mount, parent)
    let entries: string[] = []
    try {
      entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)
    } catch {
      continue
    }
    for (const entry of entries) found.push(join(dir, entry))
  }
  return found
}
