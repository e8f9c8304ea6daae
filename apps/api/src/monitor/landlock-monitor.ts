// Landlock denials from the kernel audit log (kernel 6.15 and later). The
// reader joins the multicast group AUDIT_NLGRP_READLOG, so it never takes
// the audit daemon's place. The kernel logs a denial only when audit is
// enabled and the ruleset was restricted with a logging flag (the launcher
// sets LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON).

import {
  AUDIT_EOE,
  AUDIT_LANDLOCK_ACCESS,
  AUDIT_LANDLOCK_DOMAIN,
  AUDIT_SYSCALL,
  landlockDenials,
  parseAuditRecord,
  type KernelAuditRecord,
  type LandlockDenial,
} from './audit-records.js'
import { quietMonitorLogger, RecordGate, type Monitor, type MonitorLogger, type MonitorStats, type RecordFn } from './common.js'
import { loadMonitorAddon, type AddonResult, type AuditItem, type NetlinkReader } from './native.js'
import { ServiceResolver, type ServiceSource } from './services.js'

export interface LandlockMonitorOptions {
  record: RecordFn
  services: ServiceSource | ServiceResolver
  logger?: MonitorLogger
  /** The native addon; loaded from @blackhole/native by default. */
  addon?: AddonResult
  /** Records per service per second before further denials are only counted (default 50). */
  maxRecordsPerSecond?: number
  /** How long the records of one event are collected when no end-of-event record arrives, in milliseconds (default 500). */
  eventTimeoutMs?: number
}

export interface LandlockMonitorStats extends MonitorStats {
  /** Kernel audit `enabled` at start: 0 means the kernel logs no denials; null when unknown. */
  auditEnabled: number | null
  /** Denials of processes outside every monitored service. */
  unmatched: number
  /** Socket buffer overflows: the kernel discarded records whose number is unknown. */
  overruns: number
}

interface PendingEvent {
  firstSeen: number
  records: KernelAuditRecord[]
}

// Bounds on memory when records arrive without their end-of-event record
// or domains are never deallocated.
const MAX_PENDING_EVENTS = 1024
const MAX_DOMAINS = 4096

/** Records LANDLOCK_DENIED for each Landlock denial of a monitored service. */
export class LandlockMonitor implements Monitor {
  private readonly resolver: ServiceResolver
  private readonly gate: RecordGate
  private readonly logger: MonitorLogger
  private readonly addonResult: AddonResult | undefined
  private readonly eventTimeoutMs: number
  private reader: NetlinkReader | null = null
  private timer: NodeJS.Timeout | null = null
  private unavailableReason: string | null = null
  private auditEnabled: number | null = null
  private unmatched = 0
  private overruns = 0
  private readonly pending = new Map<string, PendingEvent>()
  // The DOMAIN record with status=allocated names the pid that created the
  // domain; later denials of the same domain may come without a SYSCALL record.
  private readonly domainPids = new Map<string, number>()
  private readonly domainServices = new Map<string, string>()

  constructor(options: LandlockMonitorOptions) {
    this.resolver = options.services instanceof ServiceResolver ? options.services : new ServiceResolver(options.services)
    this.logger = options.logger ?? quietMonitorLogger
    this.gate = new RecordGate(options.record, this.logger, options.maxRecordsPerSecond ?? 50)
    this.addonResult = options.addon
    this.eventTimeoutMs = options.eventTimeoutMs ?? 500
  }

  start(): void {
    if (this.reader !== null) return
    const loaded = this.addonResult ?? loadMonitorAddon()
    if (loaded.addon === null) {
      this.unavailableReason = loaded.reason
      this.logger.warn(`Landlock denial monitor unavailable: ${loaded.reason}`)
      return
    }
    try {
      this.reader = new loaded.addon.NetlinkReader('audit', {
        maxQueue: 1024,
        onBatch: (items, dropped, overruns) => this.onBatch(items, dropped, overruns),
      })
    } catch (error) {
      // For example EPERM without CAP_AUDIT_READ, or EPROTONOSUPPORT on a kernel without audit.
      this.unavailableReason = `reading the kernel audit log failed: ${(error as Error).message}`
      this.logger.warn(`Landlock denial monitor unavailable: ${this.unavailableReason}`)
      return
    }
    this.unavailableReason = null
    try {
      this.auditEnabled = loaded.addon.auditStatus().enabled
    } catch (error) {
      this.auditEnabled = null
      this.logger.warn(`reading the kernel audit status failed: ${(error as Error).message}`)
    }
    if (this.auditEnabled === 0) {
      this.logger.warn('kernel audit is disabled (enabled=0), so the kernel logs no Landlock denials; an audit daemon or AUDIT_SET enables it')
    }
    this.timer = setInterval(() => this.flushExpired(Date.now()), Math.max(50, this.eventTimeoutMs / 2))
    this.timer.unref()
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.reader?.close()
    this.reader = null
    for (const key of [...this.pending.keys()]) this.flush(key)
  }

  stats(): LandlockMonitorStats {
    return {
      ...this.gate.stats(this.unavailableReason === null, this.unavailableReason, this.reader !== null),
      auditEnabled: this.auditEnabled,
      unmatched: this.unmatched,
      overruns: this.overruns,
    }
  }

  private onBatch(items: AuditItem[], dropped: number, overruns: number): void {
    // Dropped before parsing, so the service is unknown.
    this.gate.drop(null, dropped)
    if (overruns > 0) {
      this.overruns += overruns
      this.logger.warn(`the audit socket overflowed ${overruns} time(s); some Landlock denials were lost`)
    }
    for (const item of items) {
      if (item.type !== AUDIT_LANDLOCK_ACCESS && item.type !== AUDIT_LANDLOCK_DOMAIN &&
          item.type !== AUDIT_SYSCALL && item.type !== AUDIT_EOE) continue
      const record = parseAuditRecord(item.type, item.text)
      if (record === null) continue
      this.accept(record, item.time)
    }
    this.flushExpired(Date.now())
  }

  private accept(record: KernelAuditRecord, received: number): void {
    const key = `${record.time}:${record.serial}`
    if (record.type === AUDIT_LANDLOCK_DOMAIN) {
      this.trackDomain(record)
      return
    }
    const event = this.pending.get(key)
    if (record.type === AUDIT_LANDLOCK_ACCESS) {
      if (event !== undefined) {
        event.records.push(record)
      } else if (this.pending.size >= MAX_PENDING_EVENTS) {
        this.gate.drop(null)
      } else {
        this.pending.set(key, { firstSeen: received, records: [record] })
      }
      return
    }
    // SYSCALL and EOE matter only for an event that has a Landlock access record.
    if (event === undefined) return
    if (record.type === AUDIT_SYSCALL) event.records.push(record)
    if (record.type === AUDIT_EOE) this.flush(key)
  }

  private trackDomain(record: KernelAuditRecord): void {
    const domain = record.fields.domain
    if (domain === undefined) return
    if (record.fields.status === 'deallocated') {
      this.domainPids.delete(domain)
      this.domainServices.delete(domain)
      return
    }
    const pid = Number(record.fields.pid)
    if (record.fields.status !== 'allocated' || !Number.isInteger(pid)) return
    if (this.domainPids.size >= MAX_DOMAINS) {
      const oldest = this.domainPids.keys().next().value!
      this.domainPids.delete(oldest)
      this.domainServices.delete(oldest)
    }
    this.domainPids.set(domain, pid)
  }

  private flushExpired(now: number): void {
    for (const [key, event] of this.pending) {
      if (now - event.firstSeen >= this.eventTimeoutMs) this.flush(key)
    }
  }

  private flush(key: string): void {
    const event = this.pending.get(key)
    if (event === undefined) return
    this.pending.delete(key)
    this.resolver.refresh()
    for (const denial of landlockDenials(event.records)) this.report(denial)
  }

  private report(denial: LandlockDenial): void {
    const pid = denial.pid ?? this.domainPids.get(denial.domain) ?? null
    let service = pid === null ? null : this.resolver.serviceOf(pid)
    if (service === null) service = this.domainServices.get(denial.domain) ?? null
    if (service === null) {
      this.unmatched += 1
      return
    }
    this.domainServices.set(denial.domain, service)
    const access = denial.blockers.join(',')
    const target = denial.path ?? describeNetTarget(denial.details) ?? 'an unnamed object'
    this.gate.emit({
      service,
      pid,
      type: 'LANDLOCK_DENIED',
      severity: 'medium',
      actor: 'supervisor',
      description: `Landlock denied ${access} on ${target} in ${service}`,
      metadata: {
        path: denial.path,
        access: denial.blockers,
        domain: denial.domain,
        auditSerial: denial.serial,
        auditTime: new Date(denial.time).toISOString(),
        ...denial.details,
      },
    })
  }
}

// Network denials carry the address and port instead of a path: `daddr` and
// `dest` for connect, `saddr` and `src` for bind.
function describeNetTarget(details: Record<string, string>): string | null {
  if (details.dest !== undefined) return `${details.daddr ?? '?'} port ${details.dest}`
  if (details.src !== undefined) return `${details.saddr ?? '?'} port ${details.src}`
  return null
}
