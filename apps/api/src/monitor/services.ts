// Mapping of host pids to services. A pid belongs to a service when
// /proc/PID/cgroup places it in one of the service's cgroup folders, or when
// /proc/PID/ns/pid is the service's PID namespace.

import { readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import type { ServiceStatus } from '../types.js'
import { detectLayout, ServiceCgroup, type CgroupLayout } from '../sandbox/cgroups.js'

/** A running service as the monitors see it. */
export interface MonitoredService {
  name: string
  /** Host pid of the service's main process (PID 1 of its namespace). */
  pid: number
  /** Absolute cgroup folders of the service, one per hierarchy; may be empty. */
  cgroupDirs: string[]
}

/** Returns the services running now; called by the monitors on each poll. */
export type ServiceSource = () => MonitoredService[]

/**
 * Builds a ServiceSource from the supervisor's status list. cgroupRoot must
 * be the parent the supervisor was given (its `cgroupRoot` option).
 */
export function supervisorServices(
  supervisor: { list(): ServiceStatus[] },
  options: { cgroupRoot?: string; layout?: CgroupLayout } = {},
): ServiceSource {
  const layout = options.layout ?? detectLayout()
  const parent = options.cgroupRoot ?? 'blackhole'
  const dirs = new Map<string, string[]>()
  return () =>
    supervisor
      .list()
      .filter((status) => status.pid !== null && (status.state === 'running' || status.state === 'isolated'))
      .map((status) => {
        let cgroupDirs = dirs.get(status.name)
        if (cgroupDirs === undefined) {
          cgroupDirs = new ServiceCgroup(status.name, { layout, parent }).dirs()
          dirs.set(status.name, cgroupDirs)
        }
        return { name: status.name, pid: status.pid!, cgroupDirs }
      })
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

/** Returns the inode link of /proc/PID/ns/pid, such as `pid:[4026532281]`, or null when the pid is gone. */
export function pidNamespaceOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`)
  } catch {
    return null
  }
}

/**
 * Parses /proc/PID/cgroup into absolute cgroup folders. v1 lines
 * (`4:memory:/blackhole/web`) resolve against the controller's mount point,
 * the v2 line (`0::/path`) against the cgroup2 mount.
 */
export function cgroupDirsOf(text: string, layout: CgroupLayout): string[] {
  const dirs: string[] = []
  for (const line of text.split('\n')) {
    const first = line.indexOf(':')
    const second = line.indexOf(':', first + 1)
    if (first < 0 || second < 0) continue
    const controllers = line.slice(first + 1, second)
    const path = line.slice(second + 1)
    let mount: string | null | undefined
    if (controllers === '') {
      mount = layout.unified
    } else {
      mount = controllers.split(',').map((name) => layout.v1[name]).find((found) => found !== undefined)
    }
    if (mount !== null && mount !== undefined) dirs.push(join(mount, path))
  }
  return dirs
}

function isSameOrUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`)
}

interface ResolvedService extends MonitoredService {
  pidNamespace: string | null
}

/** Maps host pids to services, caching each service's PID namespace until the next refresh. */
export class ServiceResolver {
  private readonly source: ServiceSource
  private readonly layout: CgroupLayout
  private services: ResolvedService[] = []

  constructor(source: ServiceSource, layout: CgroupLayout = detectLayout()) {
    this.source = source
    this.layout = layout
  }

  /** Rereads the service list; the monitors call it once per poll. */
  refresh(): MonitoredService[] {
    const previous = new Map(this.services.map((service) => [service.name, service]))
    this.services = this.source().map((service) => {
      const known = previous.get(service.name)
      const pidNamespace = known !== undefined && known.pid === service.pid ? known.pidNamespace : pidNamespaceOf(service.pid)
      return { ...service, pidNamespace }
    })
    return this.services
  }

  list(): MonitoredService[] {
    return this.services
  }

  get(name: string): MonitoredService | undefined {
    return this.services.find((service) => service.name === name)
  }

  /** Returns the name of the service the pid belongs to, or null. Reads /proc, so the pid must still exist. */
  serviceOf(pid: number): string | null {
    if (this.services.length === 0) return null
    const main = this.services.find((service) => service.pid === pid)
    if (main !== undefined) return main.name
    const cgroupText = readText(`/proc/${pid}/cgroup`)
    if (cgroupText !== null) {
      const dirs = cgroupDirsOf(cgroupText, this.layout)
      for (const service of this.services) {
        if (service.cgroupDirs.some((serviceDir) => dirs.some((dir) => isSameOrUnder(dir, serviceDir)))) return service.name
      }
    }
    const namespace = pidNamespaceOf(pid)
    if (namespace === null) return null
    return this.services.find((service) => service.pidNamespace === namespace)?.name ?? null
  }

  /**
   * Lists the pids of a service from its cgroup's cgroup.procs; falls back to
   * the main pid alone when the service has no readable cgroup.
   */
  pidsOf(name: string): number[] {
    const service = this.get(name)
    if (service === undefined) return []
    for (const dir of service.cgroupDirs) {
      const text = readText(join(dir, 'cgroup.procs'))
      if (text === null) continue
      const pids = text.split('\n').filter((line) => line !== '').map(Number)
      if (pids.length > 0) return pids
    }
    return [service.pid]
  }
}
