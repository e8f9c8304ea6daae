// The kernel monitors: Landlock denials, network state, process tree and
// resource history. startMonitors wires all four to a supervisor.

import type { EventEmitter } from 'node:events'
import type Database from 'better-sqlite3'
import type { ServiceStatus } from '../types.js'
import type { CgroupLayout } from '../sandbox/cgroups.js'
import { quietMonitorLogger, type MonitorLogger, type MonitorStats, type RecordFn } from './common.js'
import { LandlockMonitor, type LandlockMonitorStats } from './landlock-monitor.js'
import { NetworkMonitor } from './network-monitor.js'
import { ProcessMonitor, type ProcessMonitorStats } from './process-monitor.js'
import { ResourceHistory } from './resource-history.js'
import { loadMonitorAddon } from './native.js'
import { ServiceResolver, supervisorServices } from './services.js'

export * from './audit-records.js'
export * from './common.js'
export * from './landlock-monitor.js'
export * from './native.js'
export * from './network-monitor.js'
export * from './proc-net.js'
export * from './process-monitor.js'
export * from './resource-history.js'
export * from './services.js'

export interface StartMonitorsOptions {
  supervisor: EventEmitter & { list(): ServiceStatus[] }
  record: RecordFn
  /** better-sqlite3 handle with the migrations applied, for the resource history. */
  database: Database.Database
  /** The supervisor's cgroupRoot option (default `blackhole`). */
  cgroupRoot?: string
  layout?: CgroupLayout
  logger?: MonitorLogger
}

export interface Monitors {
  landlock: LandlockMonitor
  network: NetworkMonitor
  processes: ProcessMonitor
  history: ResourceHistory
  stats(): { landlock: LandlockMonitorStats; network: MonitorStats; processes: ProcessMonitorStats; historyDropped: number }
  /** Stops the monitors and writes the resource minutes in progress. */
  stop(): void
}

/** Starts the four monitors on a supervisor's services; a monitor the host cannot run reports why in stats(). */
export function startMonitors(options: StartMonitorsOptions): Monitors {
  const logger = options.logger ?? quietMonitorLogger
  const source = supervisorServices(options.supervisor, { cgroupRoot: options.cgroupRoot, layout: options.layout })
  // One resolver each: they refresh on their own schedules.
  const landlock = new LandlockMonitor({ record: options.record, services: new ServiceResolver(source, options.layout), logger })
  const network = new NetworkMonitor({ record: options.record, services: new ServiceResolver(source, options.layout), logger })
  const processes = new ProcessMonitor({ record: options.record, services: new ServiceResolver(source, options.layout), logger })
  const history = new ResourceHistory({ database: options.database, services: new ServiceResolver(source, options.layout), logger })
  landlock.start()
  network.start()
  processes.start()
  const detach = history.attach(options.supervisor)
  return {
    landlock, network, processes, history,
    stats: () => ({ landlock: landlock.stats(), network: network.stats(), processes: processes.stats(), historyDropped: history.dropped }),
    stop: () => {
      landlock.stop()
      network.stop()
      processes.stop()
      detach()
    },
  }
}

export interface MonitorProbe {
  /** The kernel audit multicast group, which the Landlock denial monitor reads. */
  auditNetlink: { available: boolean; reason: string | null; auditEnabled: number | null }
  /** The proc connector; without it the process monitor polls cgroup.procs. */
  procConnector: { available: boolean; reason: string | null }
}

/**
 * Opens and closes each netlink reader once and reports what failed, for
 * `blackhole doctor` and the dashboard's host facts.
 */
export function probeMonitors(addonResult = loadMonitorAddon()): MonitorProbe {
  if (addonResult.addon === null) {
    return {
      auditNetlink: { available: false, reason: addonResult.reason, auditEnabled: null },
      procConnector: { available: false, reason: addonResult.reason },
    }
  }
  const addon = addonResult.addon
  const tryOpen = (source: 'audit' | 'proc'): string | null => {
    try {
      const reader = source === 'audit'
        ? new addon.NetlinkReader('audit', { maxQueue: 1, onBatch: () => undefined })
        : new addon.NetlinkReader('proc', { maxQueue: 1, onBatch: () => undefined })
      reader.close()
      return null
    } catch (error) {
      return (error as Error).message
    }
  }
  const auditReason = tryOpen('audit')
  let auditEnabled: number | null = null
  try {
    auditEnabled = addon.auditStatus().enabled
  } catch {
    // Reported through auditEnabled null.
  }
  const procReason = tryOpen('proc')
  return {
    auditNetlink: { available: auditReason === null, reason: auditReason, auditEnabled },
    procConnector: { available: procReason === null, reason: procReason },
  }
}
