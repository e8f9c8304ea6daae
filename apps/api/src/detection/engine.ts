// The detection engine: evaluates every committed audit record against the
// rules, opens incidents and runs their responses.
//
// Evaluation is synchronous and in memory, so it keeps up with the audit
// log; incident storage and responses run asynchronously after it. Windows
// and throttling go by each record's own time, which keeps them testable
// and independent of how late the audit log delivers a batch.

import { SEVERITIES } from '../types.js'
import type { AuditRecord, Severity } from '../types.js'
import type { AuditSink, Incident, IncidentStore } from './incidents.js'
import type { MetadataValue, Rule } from './rules.js'

/** Executor of rule responses; `supervisorResponder` adapts the supervisor to it. */
export interface Responder {
  isolate(service: string, actor: string, reason: string): unknown
  block(service: string, actor: string, reason: string): unknown
  terminate(service: string, actor: string, reason: string): unknown
}

/** The supervisor's response methods, as `supervisorResponder` adapts them. */
export interface SupervisorActions {
  isolate(name: string, actor: string, reason?: string): Promise<unknown>
  block(name: string, actor: string, reason?: string): Promise<unknown>
  terminate(name: string, actor: string, options?: { reason?: string }): Promise<unknown>
}

/** Adapts the supervisor to the responder interface; its terminate takes the reason in an options object. */
export function supervisorResponder(supervisor: SupervisorActions): Responder {
  return {
    isolate: (service, actor, reason) => supervisor.isolate(service, actor, reason),
    block: (service, actor, reason) => supervisor.block(service, actor, reason),
    terminate: (service, actor, reason) => supervisor.terminate(service, actor, { reason }),
  }
}

/** The part of the audit log the engine listens to. */
export interface AuditSource {
  /** Calls the listener with each committed record; returns a function that unsubscribes. */
  subscribe(listener: (record: AuditRecord) => void): (() => void) | void
}

export interface DetectionLogger {
  error(details: object, message: string): void
}

export interface DetectionEngineOptions {
  incidents: IncidentStore
  /** Audit log for the throttling records; incident records go through `incidents`. */
  audit: AuditSink
  /** Null when no supervisor runs: responses other than alert are then recorded as failed. */
  responder: Responder | null
  rules?: Rule[]
  /** The YAML the rules came from, returned by GET /rules. */
  rulesYaml?: string
  /** Records per second of one service above which its records are sampled. Default 200. */
  throttleEventsPerSecond?: number
  /** While a service is throttled, evaluate one record in this many. Default 100. */
  throttleSampleEvery?: number
  /** Maximum number of (rule, service) windows, cooldowns and throttle states kept in memory. Default 10,000. */
  maxKeys?: number
  /** Milliseconds since the epoch; only for records whose time does not parse, and for `tick`. */
  now?: () => number
  log?: DetectionLogger
}

/** Actor of the records the engine writes about throttling. */
export const DETECTION_ACTOR = 'detection'

const DEFAULT_THROTTLE_EVENTS_PER_SECOND = 200
const DEFAULT_THROTTLE_SAMPLE_EVERY = 100
const DEFAULT_MAX_KEYS = 10_000
/** Maximum number of event seqs stored with one incident; a larger rate count keeps only the newest. */
const MAX_INCIDENT_EVENT_SEQS = 1000

interface Match {
  time: number
  seq: number
}

interface ThrottleState {
  /** The second (time / 1000, rounded down) that `count` belongs to. */
  second: number
  count: number
  throttled: boolean
  /** Records that arrived while throttled, sampled or not. */
  seen: number
  suppressed: number
}

export interface DetectionStats {
  evaluated: number
  /** Records the engine skipped because it or a rule's response wrote them. */
  ignoredOwn: number
  /** Records skipped by throttling. */
  suppressed: number
  incidents: number
  /** Incidents a rule's cooldown held back. */
  cooledDown: number
}

export class DetectionEngine {
  private rulesList: Rule[]
  private yaml: string
  private readonly windows = new Map<string, Match[]>()
  private readonly lastIncident = new Map<string, number>()
  private readonly throttles = new Map<string, ThrottleState>()
  private readonly inFlight = new Set<Promise<void>>()
  private readonly limit: number
  private readonly sampleEvery: number
  private readonly maxKeys: number
  private readonly now: () => number
  private readonly log: DetectionLogger
  private unsubscribe: (() => void) | null = null
  private timer: NodeJS.Timeout | null = null
  private readonly counters: DetectionStats = { evaluated: 0, ignoredOwn: 0, suppressed: 0, incidents: 0, cooledDown: 0 }

  constructor(private readonly options: DetectionEngineOptions) {
    this.rulesList = options.rules ?? []
    this.yaml = options.rulesYaml ?? ''
    this.limit = positive(options.throttleEventsPerSecond ?? DEFAULT_THROTTLE_EVENTS_PER_SECOND, 'throttleEventsPerSecond')
    this.sampleEvery = positive(options.throttleSampleEvery ?? DEFAULT_THROTTLE_SAMPLE_EVERY, 'throttleSampleEvery')
    this.maxKeys = positive(options.maxKeys ?? DEFAULT_MAX_KEYS, 'maxKeys')
    this.now = options.now ?? Date.now
    this.log = options.log ?? {
      error: (details, message) => process.stderr.write(`detection: ${message} ${JSON.stringify(details)}\n`),
    }
  }

  get rules(): readonly Rule[] {
    return this.rulesList
  }

  get rulesYaml(): string {
    return this.yaml
  }

  stats(): DetectionStats {
    return { ...this.counters }
  }

  /** Replaces the rules; windows and cooldowns of removed rules are dropped. */
  setRules(rules: Rule[], yaml: string): void {
    this.rulesList = rules
    this.yaml = yaml
    const names = new Set(rules.map((rule) => rule.name))
    for (const map of [this.windows, this.lastIncident]) {
      for (const key of map.keys()) {
        if (!names.has(key.slice(0, key.indexOf('\0')))) map.delete(key)
      }
    }
  }

  /** Subscribes to the audit log and starts the timer that ends quiet throttles. */
  start(source: AuditSource): void {
    if (this.unsubscribe !== null) throw new Error('detection engine already started: call stop() first')
    this.unsubscribe = source.subscribe((record) => this.handle(record)) ?? (() => {})
    this.timer = setInterval(() => this.tick(), 1000)
    this.timer.unref()
  }

  /** Unsubscribes and waits for incidents and responses under way. */
  async stop(): Promise<void> {
    this.unsubscribe?.()
    this.unsubscribe = null
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    await this.idle()
  }

  /** Resolves once every incident and response started so far has been stored. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight])
  }

  /** Evaluates one committed audit record. */
  handle(record: AuditRecord): void {
    if (isOwnRecord(record)) {
      this.counters.ignoredOwn++
      return
    }
    const parsed = Date.parse(record.time)
    const time = Number.isNaN(parsed) ? this.now() : parsed
    const service = record.service ?? ''
    if (!this.passThrottle(service, time)) return
    this.counters.evaluated++
    for (const rule of this.rulesList) {
      if (matches(rule, record)) this.count(rule, record, time)
    }
  }

  /** Ends the throttle of every service that has been calm for a full second. */
  tick(now = this.now()): void {
    const second = Math.floor(now / 1000)
    for (const [service, state] of this.throttles) {
      if (state.throttled && this.isCalm(state, second)) this.stopThrottle(service, state, now)
    }
  }

  private count(rule: Rule, record: AuditRecord, time: number): void {
    const service = record.service ?? ''
    const key = `${rule.name}\0${service}`
    let seqs: number[]
    if (rule.rate === null) {
      seqs = [record.seq]
    } else {
      const window = this.windows.get(key) ?? []
      window.push({ time, seq: record.seq })
      const oldest = time - rule.rate.windowMs
      while (window.length > 0 && (window[0]?.time ?? 0) <= oldest) window.shift()
      // Only the newest count + 1 matter for "more than count".
      if (window.length > rule.rate.count + 1) window.splice(0, window.length - rule.rate.count - 1)
      this.remember(this.windows, key, window)
      if (window.length <= rule.rate.count) return
      seqs = window.slice(-MAX_INCIDENT_EVENT_SEQS).map((match) => match.seq)
    }
    const last = this.lastIncident.get(key)
    if (last !== undefined && rule.cooldownMs > 0 && time - last < rule.cooldownMs) {
      this.counters.cooledDown++
      return
    }
    this.remember(this.lastIncident, key, time)
    this.windows.delete(key)
    this.counters.incidents++
    this.track(this.raise(rule, record.service, seqs, record), { rule: rule.name, service: record.service, seq: record.seq })
  }

  private async raise(rule: Rule, service: string | null, eventSeqs: number[], last: AuditRecord): Promise<void> {
    const summary = summarize(rule, last, eventSeqs.length)
    const incident = await this.options.incidents.open({
      rule: rule.name,
      service,
      severity: rule.severity,
      response: rule.response,
      summary,
      eventSeqs,
    })
    if (rule.response === 'alert') return
    if (service === null) {
      this.options.incidents.markResponseNotApplicable(incident.id, 'the matched records name no service')
      return
    }
    const error = await this.respond(rule, service, incident)
    await this.options.incidents.recordResponse(incident.id, error)
  }

  private async respond(rule: Rule, service: string, incident: Incident): Promise<Error | null> {
    const responder = this.options.responder
    if (responder === null) return new Error('no supervisor is running to carry out the response')
    const actor = `rule:${rule.name}`
    const reason = `incident ${incident.id}: ${incident.summary}`
    try {
      await responder[rule.response as 'isolate' | 'block' | 'terminate'](service, actor, reason)
      return null
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error))
    }
  }

  /** Returns whether the record is evaluated; false while its service is throttled and it is not in the sample. */
  private passThrottle(service: string, time: number): boolean {
    const second = Math.floor(time / 1000)
    let state = this.throttles.get(service)
    if (state === undefined) {
      state = { second, count: 0, throttled: false, seen: 0, suppressed: 0 }
      this.remember(this.throttles, service, state)
    }
    // A record older than the current second (clock skew between producers) counts toward the current one.
    if (second > state.second) {
      if (state.throttled && this.isCalm(state, second)) this.stopThrottle(service, state, time)
      state.second = second
      state.count = 0
    }
    state.count++
    if (!state.throttled && state.count > this.limit) this.startThrottle(service, state, time)
    if (!state.throttled) return true
    state.seen++
    if (state.seen % this.sampleEvery === 0) return true
    state.suppressed++
    this.counters.suppressed++
    return false
  }

  /** Returns whether a throttle can end: the last counted second stayed within the limit, or a whole second passed with no record. */
  private isCalm(state: ThrottleState, second: number): boolean {
    if (second <= state.second) return false
    return state.count <= this.limit || second > state.second + 1
  }

  private startThrottle(service: string, state: ThrottleState, time: number): void {
    state.throttled = true
    state.seen = 0
    state.suppressed = 0
    this.write({
      service: service === '' ? null : service,
      type: 'THROTTLE_STARTED',
      severity: 'medium',
      description: `${service || 'records without a service'} exceeded ${this.limit} events per second: evaluating 1 in ${this.sampleEvery}`,
      metadata: { eventsPerSecond: this.limit, sampleEvery: this.sampleEvery, at: new Date(time).toISOString() },
    })
  }

  private stopThrottle(service: string, state: ThrottleState, time: number): void {
    const suppressed = state.suppressed
    state.throttled = false
    state.seen = 0
    state.suppressed = 0
    this.write({
      service: service === '' ? null : service,
      type: 'THROTTLE_STOPPED',
      severity: 'info',
      description: `${service || 'records without a service'} is back under ${this.limit} events per second; ${suppressed} records were not evaluated`,
      metadata: { eventsPerSecond: this.limit, suppressed, at: new Date(time).toISOString() },
    })
  }

  private write(input: { service: string | null; type: string; severity: Severity; description: string; metadata: Record<string, unknown> }): void {
    const work = (async () => {
      await this.options.audit.append({ ...input, actor: DETECTION_ACTOR })
    })()
    this.track(work, { type: input.type, service: input.service })
  }

  /** Keeps the work for `idle()` and logs its failure with the ids in `context`. */
  private track(work: Promise<void>, context: Record<string, unknown>): void {
    const tracked = work
      .catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error)
        this.log.error({ ...context, error: message }, 'detection failed to store an incident, response or audit record')
      })
      .finally(() => this.inFlight.delete(tracked))
    this.inFlight.add(tracked)
  }

  /** Sets the key as the newest entry and evicts the oldest while the map contains more than maxKeys. */
  private remember<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key)
    map.set(key, value)
    while (map.size > this.maxKeys) {
      const oldest = map.keys().next().value
      if (oldest === undefined) break
      map.delete(oldest)
    }
  }
}

/**
 * Returns whether the engine or a rule's response wrote the record.
 * Throttling records carry the `detection` actor. Incident records and the
 * supervisor's records of a response carry `rule:<name>`.
 */
export function isOwnRecord(record: AuditRecord): boolean {
  const actor = record.actor ?? ''
  return actor === DETECTION_ACTOR || actor.startsWith('rule:')
}

export function matches(rule: Rule, record: AuditRecord): boolean {
  const match = rule.match
  if (!match.types.includes(record.type)) return false
  if (match.services !== null && (record.service === null || !match.services.includes(record.service))) return false
  if (match.severities !== null && !match.severities.includes(record.severity)) return false
  if (match.minSeverity !== null && severityRank(record.severity) < severityRank(match.minSeverity)) return false
  for (const [path, expected] of Object.entries(match.metadata)) {
    if (metadataAt(record.metadata, path) !== expected) return false
  }
  return true
}

function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity)
}

/** Returns the value at a dotted path such as `decoded.port`, or undefined when it is absent or not a scalar. */
function metadataAt(metadata: Record<string, unknown>, path: string): MetadataValue | undefined {
  let current: unknown = metadata
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined
    if (!Object.hasOwn(current, part)) return undefined
    current = (current as Record<string, unknown>)[part]
  }
  if (current === null || ['string', 'number', 'boolean'].includes(typeof current)) return current as MetadataValue
  return undefined
}

function summarize(rule: Rule, last: AuditRecord, matched: number): string {
  const what = rule.description !== '' ? rule.description : `${last.type} matched rule ${rule.name}`
  const where = last.service === null ? '' : ` on ${last.service}`
  if (rule.rate === null) return `${what}${where}: ${last.description}`
  return `${what}${where}: ${matched} matching events within ${rule.rate.windowMs / 1000}s`
}

function positive(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(`detection option ${name} is ${value}: use a whole number greater than zero`)
  }
  return value
}
