// Learn mode: runs a service permissively for a while, records what it does
// and proposes the profile change that would allow it. Sessions and their
// proposals are audit records (LEARN_STARTED, LEARN_COMPLETED,
// LEARN_APPLIED), so they survive restarts and sit in the hash chain.

import { randomUUID } from 'node:crypto'
import type { Config, EnforceMode } from '@blackhole/policy'
import { currentProfileYaml, storeProfiles } from '../db/profiles.js'
import type { PrismaClient } from '../generated/prisma/client.js'
import { classifySockets, readSockets } from '../monitor/network-monitor.js'
import { validateProfileYaml } from '../server/routes/profile-yaml.js'
import type { AuditInput, AuditRecord, ServiceStatus } from '../types.js'
import { collectActivity, type ActivityRecord, type LearnedActivity } from './activity.js'
import { buildProposal, type Proposal } from './proposal.js'

/** Shortest and longest learn run, in seconds. */
export const MIN_LEARN_SECONDS = 1
export const MAX_LEARN_SECONDS = 3600

/** An error with a stable code and HTTP status, which the API passes through. */
export class LearnError extends Error {
  constructor(
    readonly code: 'LEARN_NOT_FOUND' | 'LEARN_CONFLICT' | 'LEARN_STALE' | 'LEARN_UNSUPPORTED' | 'INVALID_REQUEST',
    readonly statusCode: number,
    message: string,
  ) {
    super(message)
    this.name = 'LearnError'
  }
}

/** Supervisor methods that learn mode calls; the Supervisor class provides them. */
export interface LearnSupervisor {
  get(name: string): ServiceStatus
  start(name: string, actor: string, options?: { enforceMode?: EnforceMode }): Promise<unknown>
  stop(name: string, actor: string): Promise<unknown>
}

/** Audit log methods that learn mode calls. */
export interface LearnAudit {
  append(input: AuditInput): Promise<AuditRecord>
  query(options: { service?: string; type?: string; limit?: number }): AuditRecord[] | Promise<AuditRecord[]>
  subscribe(listener: (record: AuditRecord) => void): () => void
}

export interface LearnSession {
  id: string
  service: string
  profile: string
  /** The stored profile version the proposal starts from. */
  baseVersion: number
  state: 'running' | 'completed' | 'failed'
  durationSeconds: number
  startedBy: string
  /** ISO 8601 times. */
  startedAt: string
  endsAt: string
  endedAt: string | null
  /** True when the service was running before and was restarted in its own mode afterwards. */
  restarted: boolean
  activity: LearnedActivity | null
  proposal: Proposal | null
  error: string | null
}

export interface AppliedLearn {
  sessionId: string
  profile: string
  version: number
  created: boolean
  appliedBy: string
  appliedAt: string
  /** Services using the profile that keep the old version until restarted. */
  restartRequired: string[]
}

export interface LearnManagerOptions {
  config: Config
  prisma: PrismaClient
  audit: LearnAudit
  supervisor: LearnSupervisor
  /** Time to wait after the stop for the last notifications and monitor records, in milliseconds (default 500). */
  settleMs?: number
}

interface Running {
  session: LearnSession
  timer: NodeJS.Timeout | null
  finish: () => void
  done: Promise<LearnSession>
}

/** Starts learn sessions, keeps the running ones, and applies proposals. */
export class LearnManager {
  private readonly running = new Map<string, Running>()
  private readonly settleMs: number

  constructor(private readonly options: LearnManagerOptions) {
    this.settleMs = options.settleMs ?? 500
  }

  /**
   * Starts a session on a stopped, failed or running service (a running one
   * is stopped first and started again in its own mode afterwards). Resolves
   * once the service runs permissively; `done` resolves with the finished
   * session and its proposal.
   */
  async start(service: string, durationSeconds: number, actor: string): Promise<{ session: LearnSession; done: Promise<LearnSession> }> {
    const { config, supervisor, audit } = this.options
    if (!Number.isInteger(durationSeconds) || durationSeconds < MIN_LEARN_SECONDS || durationSeconds > MAX_LEARN_SECONDS) {
      throw new LearnError('INVALID_REQUEST', 400, `invalid duration ${durationSeconds} s; use a whole number from ${MIN_LEARN_SECONDS} to ${MAX_LEARN_SECONDS}`)
    }
    if (this.running.has(service)) {
      throw new LearnError('LEARN_CONFLICT', 409, `a learn session for "${service}" is already running; wait for it or read it with GET /api/v1/services/${service}/learn`)
    }
    const status = supervisor.get(service)
    const definition = Object.hasOwn(config.services, service) ? config.services[service] : undefined
    // NOTE: a definition stored over the API is not visible here, so learn
    // mode only covers services as the config file defines them.
    if (definition === undefined || definition.profile !== status.profile) {
      throw new LearnError(
        'LEARN_UNSUPPORTED', 409,
        `cannot learn "${service}": learn mode works on services as the config file defines them, and this one is defined or overridden over the API`,
      )
    }
    const wasRunning = status.state === 'running'
    if (!wasRunning && status.state !== 'stopped' && status.state !== 'failed') {
      throw new LearnError('LEARN_CONFLICT', 409, `cannot learn "${service}": it is ${status.state}; resume or stop it first`)
    }
    const base = await this.currentVersion(definition.profile)
    const startedAt = new Date()
    const session: LearnSession = {
      id: randomUUID(), service, profile: definition.profile, baseVersion: base.version, state: 'running',
      durationSeconds, startedBy: actor, startedAt: startedAt.toISOString(),
      endsAt: new Date(startedAt.getTime() + durationSeconds * 1000).toISOString(), endedAt: null,
      restarted: false, activity: null, proposal: null, error: null,
    }

    const records: ActivityRecord[] = []
    let collecting = true
    const unsubscribe = audit.subscribe((record) => {
      if (collecting && record.service === service) records.push(record)
    })
    let finish!: () => void
    const finished = new Promise<void>((resolve) => {
      finish = resolve
    })
    const entry: Running = { session, timer: null, finish, done: Promise.resolve(session) }
    this.running.set(service, entry)
    try {
      if (wasRunning) await supervisor.stop(service, actor)
      await supervisor.start(service, actor, { enforceMode: 'permissive' })
      const after = supervisor.get(service)
      if (after.state !== 'running') throw new Error(`it did not start: ${after.lastError ?? after.state}`)
      // A supervisor that ignored the override would run the service in its
      // profile's own mode, where the denials return errors unrecorded.
      const started = [...records].reverse().find((record) => record.type === 'SERVICE_STARTED')
      const mode = started?.metadata.enforceMode
      if (mode !== undefined && mode !== 'permissive') {
        await supervisor.stop(service, 'learn')
        throw new Error(`it started in ${String(mode)} mode instead of permissive`)
      }
    } catch (error) {
      unsubscribe()
      this.running.delete(service)
      throw new LearnError('LEARN_CONFLICT', 409, `learn session for "${service}" could not start: ${(error as Error).message}`)
    }
    await audit.append({
      service, type: 'LEARN_STARTED', severity: 'low', actor,
      description: `learn mode started on ${service} for ${durationSeconds} s by ${actor} (profile ${definition.profile} runs permissive)`,
      metadata: { sessionId: session.id, profile: session.profile, baseVersion: session.baseVersion, durationSeconds, endsAt: session.endsAt },
    })
    entry.timer = setTimeout(finish, durationSeconds * 1000)
    entry.done = finished.then(async () => {
      try {
        records.push(...this.listenerRecords(service))
        const current = supervisor.get(service)
        if (current.state === 'running') await supervisor.stop(service, 'learn')
        await new Promise((resolve) => setTimeout(resolve, this.settleMs))
        collecting = false
        session.activity = collectActivity(records)
        session.proposal = buildProposal({
          profileName: session.profile, baseYaml: base.yaml, profile: config.profiles[session.profile]!, activity: session.activity,
        })
        session.state = 'completed'
      } catch (error) {
        session.state = 'failed'
        session.error = (error as Error).message
      } finally {
        collecting = false
        unsubscribe()
        session.endedAt = new Date().toISOString()
      }
      if (wasRunning) session.restarted = await this.restart(service)
      await audit.append(completedRecord(session))
      this.running.delete(service)
      return session
    })
    return { session: { ...session }, done: entry.done }
  }

  /** Returns the running session of a service, or else its latest finished one; null when there is none. */
  async latest(service: string): Promise<{ session: LearnSession; applied: AppliedLearn | null } | null> {
    const running = this.running.get(service)
    if (running !== undefined) return { session: { ...running.session }, applied: null }
    const session = await this.latestFinished(service)
    if (session === null) return null
    const appliedRecords = await this.options.audit.query({ service, type: 'LEARN_APPLIED', limit: 1 })
    const applied = appliedRecords[0]?.metadata as AppliedLearn | undefined
    return { session, applied: applied?.sessionId === session.id ? applied : null }
  }

  /**
   * Stores the latest proposal of a service as a new version of its profile,
   * through the same storage as PUT /api/v1/profiles/:name, and records who
   * applied it. The profile must still be at the session's base version.
   */
  async apply(service: string, actor: string): Promise<AppliedLearn> {
    const { config, prisma, audit } = this.options
    if (this.running.has(service)) {
      throw new LearnError('LEARN_CONFLICT', 409, `the learn session for "${service}" is still running; apply after it ends`)
    }
    const session = await this.latestFinished(service)
    if (session === null) {
      throw new LearnError('LEARN_NOT_FOUND', 404, `no learn session for "${service}"; start one with POST /api/v1/services/${service}/learn`)
    }
    const proposal = session.proposal
    if (session.state !== 'completed' || proposal === null) {
      throw new LearnError('LEARN_CONFLICT', 409, `the latest learn session for "${service}" failed (${session.error ?? 'no proposal'}); run it again`)
    }
    if (proposal.unchanged) throw new LearnError('LEARN_CONFLICT', 409, `the latest learn session for "${service}" proposes no change; nothing to apply`)
    if (proposal.errors.length > 0) {
      throw new LearnError('LEARN_CONFLICT', 409, `the proposal for profile "${session.profile}" is invalid, so it was not stored:\n${proposal.errors.join('\n')}`)
    }
    const current = await this.currentVersion(session.profile)
    if (current.version !== session.baseVersion) {
      throw new LearnError(
        'LEARN_STALE', 409,
        `profile "${session.profile}" is at version ${current.version}, but the proposal was made from version ${session.baseVersion}; run learn again`,
      )
    }
    const result = validateProfileYaml(proposal.yaml, session.profile)
    if (!result.ok) {
      throw new LearnError('LEARN_CONFLICT', 409, `the proposal for profile "${session.profile}" is invalid:\n${result.errors.map((error) => error.text).join('\n')}`)
    }
    const [stored] = await storeProfiles(prisma, result.configText, [session.profile], actor)
    if (stored === undefined) throw new Error(`profile "${session.profile}" validated but its text could not be cut out for storing`)
    config.profiles[session.profile] = result.profile
    const services = Object.values(config.services).filter((definition) => definition.profile === session.profile).map((definition) => definition.name)
    const restartRequired = services.filter((name) => this.options.supervisor.get(name).pid !== null)
    const applied: AppliedLearn = {
      sessionId: session.id, profile: session.profile, version: stored.version, created: stored.created,
      appliedBy: actor, appliedAt: new Date().toISOString(), restartRequired,
    }
    if (stored.created) {
      await audit.append({
        type: 'PROFILE_UPDATED', severity: 'medium', actor,
        description: `profile ${session.profile} saved as version ${stored.version} by ${actor} from learn session ${session.id}`,
        metadata: { profile: session.profile, version: stored.version, services, running: restartRequired, learnSessionId: session.id },
      })
    }
    await audit.append({
      service, type: 'LEARN_APPLIED', severity: 'medium', actor,
      description: `learn proposal for ${service} applied by ${actor} as profile ${session.profile} version ${stored.version}`,
      metadata: { ...applied },
    })
    return applied
  }

  /** Ends every running session now, as the server closes; each still records its result. */
  async close(): Promise<void> {
    const pending = [...this.running.values()]
    for (const entry of pending) {
      if (entry.timer !== null) clearTimeout(entry.timer)
      entry.finish()
    }
    await Promise.all(pending.map((entry) => entry.done.catch(() => undefined)))
  }

  private async latestFinished(service: string): Promise<LearnSession | null> {
    const records = await this.options.audit.query({ service, type: 'LEARN_COMPLETED', limit: 1 })
    const session = records[0]?.metadata.session
    return session === undefined ? null : (session as LearnSession)
  }

  private async currentVersion(profile: string): Promise<{ version: number; yaml: string }> {
    const { prisma } = this.options
    const row = await prisma.profile.findUnique({ where: { name: profile } })
    const yaml = await currentProfileYaml(prisma, profile)
    if (row === null || yaml === null) {
      throw new LearnError('LEARN_CONFLICT', 409, `profile "${profile}" has no stored version to start from; restart the server so it stores the config's profiles`)
    }
    return { version: row.currentVersion, yaml }
  }

  // The network monitor polls, so a listener opened shortly before the end
  // may not have a record yet; reading the socket table now catches it.
  private listenerRecords(service: string): ActivityRecord[] {
    const pid = this.options.supervisor.get(service).pid
    if (pid === null) return []
    const sockets = readSockets(pid)
    if (sockets === null) return []
    return classifySockets(sockets.inet, sockets.unix).listeners.map((listener) => ({
      type: 'NETWORK_LISTEN',
      metadata: { protocol: listener.protocol, address: listener.address, port: listener.port },
    }))
  }

  private async restart(service: string): Promise<boolean> {
    try {
      await this.options.supervisor.start(service, 'learn')
      return this.options.supervisor.get(service).state === 'running'
    } catch {
      return false
    }
  }
}

function completedRecord(session: LearnSession): AuditInput {
  const proposal = session.proposal
  const summary = session.state === 'failed'
    ? `failed: ${session.error ?? 'unknown error'}`
    : proposal === null || proposal.unchanged
      ? 'no profile change proposed'
      : `proposes ${describeAdditions(proposal)}`
  return {
    service: session.service, type: 'LEARN_COMPLETED', severity: session.state === 'failed' ? 'medium' : 'low', actor: 'learn',
    description: `learn session on ${session.service} ended: ${summary}`,
    metadata: { sessionId: session.id, session: JSON.parse(JSON.stringify(session)) as unknown },
  }
}

function describeAdditions(proposal: Proposal): string {
  const { additions } = proposal
  const parts: string[] = []
  if (additions.undeniedSyscalls.length > 0) parts.push(`lifting denied syscalls ${additions.undeniedSyscalls.join(', ')}`)
  if (additions.allowedSyscalls.length > 0) parts.push(`allowing ${additions.allowedSyscalls.join(', ')}`)
  if (additions.allowedPorts.length > 0) parts.push(`ports ${additions.allowedPorts.join(', ')}`)
  if (additions.writablePaths.length > 0) parts.push(`writable paths ${additions.writablePaths.join(', ')}`)
  if (additions.fileAccess.length > 0) parts.push(`file access ${additions.fileAccess.map((rule) => `${rule.path} ${rule.mode}`).join(', ')}`)
  return parts.join('; ')
}
