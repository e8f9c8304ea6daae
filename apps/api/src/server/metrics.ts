// Prometheus metrics at GET /metrics in the text exposition format 0.0.4.
// Counters start at zero when the API starts, as Prometheus expects of a
// restarted process.

import type { FastifyInstance } from 'fastify'
import type { AuditRecord, ResourceSample, ServiceStatus } from '../types.js'
import type { AuditLogPort, SupervisorPort } from './ports.js'

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

const STATES: readonly ServiceStatus['state'][] = ['running', 'stopped', 'failed', 'isolated', 'starting', 'stopping']

/** Escapes a label value: backslash, double quote and newline, as the format requires. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function labels(values: Record<string, string>): string {
  const parts = Object.entries(values).map(([name, value]) => `${name}="${escapeLabel(value)}"`)
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}

/** Builds one exposition: a family is its HELP and TYPE lines followed by its samples. */
class Exposition {
  private readonly lines: string[] = []

  family(name: string, type: 'counter' | 'gauge', help: string, samples: [Record<string, string>, number][]): void {
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`)
    this.lines.push(`# TYPE ${name} ${type}`)
    for (const [labelValues, value] of samples) this.lines.push(`${name}${labels(labelValues)} ${formatValue(value)}`)
  }

  text(): string {
    return this.lines.join('\n') + '\n'
  }
}

interface ServiceUsage {
  cpuSeconds: number
  lastSample: ResourceSample | null
}

/**
 * Collects the counters that need listening: audit records by type,
 * dropped seccomp notifications, HTTP responses, and CPU time integrated
 * from the supervisor's per-second samples.
 */
export class MetricsCollector {
  private readonly eventsByType = new Map<string, number>()
  private readonly notifyDropped = new Map<string, number>()
  private readonly http = new Map<string, { method: string; route: string; status: string; count: number }>()
  private readonly usage = new Map<string, ServiceUsage>()
  private appended = 0
  private lastSeq = 0
  private readonly unsubscribers: (() => void)[] = []

  constructor(
    private readonly audit: AuditLogPort,
    private readonly supervisor: SupervisorPort,
  ) {
    this.unsubscribers.push(audit.subscribe((record) => this.onRecord(record)))
    const onMetrics = (samples: ResourceSample[]) => this.onSamples(samples)
    supervisor.on('metrics', onMetrics)
    this.unsubscribers.push(() => supervisor.off('metrics', onMetrics))
  }

  stop(): void {
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe()
  }

  countResponse(method: string, route: string, status: number): void {
    const key = `${method} ${route} ${status}`
    const entry = this.http.get(key)
    if (entry === undefined) this.http.set(key, { method, route, status: String(status), count: 1 })
    else entry.count++
  }

  private onRecord(record: AuditRecord): void {
    this.appended++
    this.lastSeq = Math.max(this.lastSeq, record.seq)
    this.eventsByType.set(record.type, (this.eventsByType.get(record.type) ?? 0) + 1)
    if (record.type === 'NOTIFY_DROPPED') {
      const { droppedByNotifier, summarised } = record.metadata as { droppedByNotifier?: unknown; summarised?: unknown }
      const count = (typeof droppedByNotifier === 'number' ? droppedByNotifier : 0) + (typeof summarised === 'number' ? summarised : 0)
      const service = record.service ?? ''
      this.notifyDropped.set(service, (this.notifyDropped.get(service) ?? 0) + count)
    }
  }

  private onSamples(samples: ResourceSample[]): void {
    for (const sample of samples) {
      let usage = this.usage.get(sample.service)
      if (usage === undefined) {
        usage = { cpuSeconds: 0, lastSample: null }
        this.usage.set(sample.service, usage)
      }
      const last = usage.lastSample
      if (last !== null && sample.time > last.time) {
        // cpuPercent is the use over the interval since the previous sample.
        usage.cpuSeconds += (sample.cpuPercent / 100) * ((sample.time - last.time) / 1000)
      }
      usage.lastSample = sample
    }
  }

  /** Returns the exposition text. */
  render(): string {
    const out = new Exposition()
    const services = this.supervisor.list()
    const sampleOf = (name: string) => this.usage.get(name)?.lastSample ?? null
    const running = (service: ServiceStatus) => service.pid !== null && service.state !== 'stopped' && service.state !== 'failed'

    out.family(
      'blackhole_service_cpu_seconds_total',
      'counter',
      'CPU time of the service cgroup since the API started, summed from the per-second samples',
      services.map((service) => [{ service: service.name }, this.usage.get(service.name)?.cpuSeconds ?? 0]),
    )
    out.family(
      'blackhole_service_memory_bytes',
      'gauge',
      'Memory charged to the service cgroup at the last sample; 0 when not running',
      services.map((service) => [{ service: service.name }, running(service) ? (sampleOf(service.name)?.memoryBytes ?? 0) : 0]),
    )
    out.family(
      'blackhole_service_pids',
      'gauge',
      'Processes in the service cgroup at the last sample; 0 when not running',
      services.map((service) => [{ service: service.name }, running(service) ? (sampleOf(service.name)?.pids ?? 0) : 0]),
    )
    out.family(
      'blackhole_service_state',
      'gauge',
      '1 for the state the service is in, 0 for the others',
      services.flatMap((service) => STATES.map((state): [Record<string, string>, number] => [{ service: service.name, state }, service.state === state ? 1 : 0])),
    )
    out.family(
      'blackhole_service_restarts_total',
      'counter',
      'Automatic restarts of the service',
      services.map((service) => [{ service: service.name }, service.restarts]),
    )
    out.family(
      'blackhole_events_total',
      'counter',
      'Audit records appended since the API started, by type',
      [...this.eventsByType].sort().map(([type, count]) => [{ type }, count]),
    )
    out.family(
      'blackhole_notify_dropped_total',
      'counter',
      'Seccomp notifications not recorded individually (dropped by the notifier queue or summarised), by service',
      [...this.notifyDropped].sort().map(([service, count]) => [{ service }, count]),
    )
    out.family('blackhole_audit_records_appended_total', 'counter', 'Audit records appended since the API started; rate() gives the append rate', [
      [{}, this.appended],
    ])
    out.family('blackhole_audit_last_seq', 'gauge', 'Sequence number of the last audit record appended since the API started', [[{}, this.lastSeq]])
    out.family(
      'blackhole_http_requests_total',
      'counter',
      'HTTP responses by method, route pattern and status code',
      [...this.http.values()]
        .sort((a, b) => (a.route + a.method + a.status).localeCompare(b.route + b.method + b.status))
        .map((entry) => [{ method: entry.method, route: entry.route, status: entry.status }, entry.count]),
    )
    return out.text()
  }
}

/**
 * Registers GET /metrics, which needs a token or session of any role, and
 * the hook that counts responses. Unmatched routes count under the route
 * label `unmatched`, so random paths cannot grow the label set.
 */
export function registerMetrics(app: FastifyInstance, collector: MetricsCollector): void {
  app.addHook('onResponse', async (request, reply) => {
    collector.countResponse(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode)
  })
  app.addHook('onClose', async () => collector.stop())
  app.get('/metrics', { config: { authenticate: true } }, async (_request, reply) => {
    return reply.type(METRICS_CONTENT_TYPE).send(collector.render())
  })
}
