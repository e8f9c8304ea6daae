import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { formatError, loadConfigFile, type Config, type PolicyError } from '@blackhole/policy'
import Database from 'better-sqlite3'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import { AuditLog, auditPaths } from '../audit/index.js'
import { loadHmacKey } from '../audit/keys.js'
import { DEFAULT_RETENTION, scheduleRetention } from '../audit/retention-schedule.js'
import type { PruneOptions } from '../audit/retention.js'
import { openDatabase, type OpenedDatabase } from '../db/client.js'
import { storeProfiles, type StoredProfile } from '../db/profiles.js'
import { ensureAdminToken } from '../db/tokens.js'
import {
  DetectionEngine,
  detectionRoutes,
  IncidentStore,
  loadRulesFile,
  supervisorResponder,
  type Rule,
} from '../detection/index.js'
import { startMonitors, type Monitors } from '../monitor/index.js'
import { Supervisor } from '../sandbox/supervisor.js'
import type { FailureLimiter } from './auth.js'
import { buildServer } from './build.js'
import { registerHistoryRoute, VERSION } from './routes.js'
import { ServiceDefinitionStore } from '../db/service-definitions.js'
import { applyStoredDefinitions, registerServiceDefinitionRoutes } from './service-definitions.js'
import type { TlsOptions } from './tls.js'

export type { TlsOptions } from './tls.js'

/** The dashboard build of this checkout (apps/web/dist), found from this file. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../../web/dist', import.meta.url))

/** A config or rules file that failed validation; `errors` contains every problem found. */
export class ConfigError extends Error {
  readonly errors: PolicyError[]

  constructor(errors: PolicyError[]) {
    super(errors.map(formatError).join('\n'))
    this.name = 'ConfigError'
    this.errors = errors
  }
}

export interface BlackholeOptions {
  configPath: string
  dataDir: string
  /** Stored as the admin token on the first start instead of a random one (BLACKHOLE_ADMIN_TOKEN). */
  adminToken?: string
  /** Receives the one-time admin token line on the first start. */
  print?: (line: string) => void
  logger?: FastifyServerOptions['logger']
  /** Start every service with autostart (true by default). */
  autostart?: boolean
  /** The dashboard folder; DEFAULT_WEB_ROOT unless given, null for none. */
  webRoot?: string | null
  /** Time between SIGTERM and SIGKILL when stopping services, in milliseconds. */
  graceMs?: number
  /** Parent cgroup of the services (`blackhole` by default); tests use their own. */
  cgroupRoot?: string
  /**
   * Detection rules file; by default rules.yaml beside the config when it
   * exists. Null runs no rules. PUT /api/v1/rules rewrites this file.
   */
  rulesPath?: string | null
  /** Passed to buildServer. */
  streamAuthTimeoutMs?: number
  /** Passed to buildServer. */
  streamSlowClientLimit?: number
  /** Serve HTTPS with these settings; plain HTTP when absent. */
  tls?: TlsOptions
  limiter?: FailureLimiter
  /** Audit retention: a record cap and an age limit (DEFAULT_RETENTION unless given), null for none. */
  retention?: PruneOptions | null
}

export interface Blackhole {
  app: FastifyInstance
  config: Config
  configPath: string
  database: OpenedDatabase
  audit: AuditLog
  supervisor: Supervisor
  /** The profiles stored at this start and their current versions. */
  profiles: StoredProfile[]
  detection: DetectionEngine
  /** Landlock, network, process and resource-history monitors. */
  monitors: Monitors
  /** The rules file in use; null when none. */
  rulesPath: string | null
  /** Stops detection and the services, then closes the monitors, the server, the audit log and the database. */
  close(actor?: string): Promise<void>
}

async function loadConfig(configPath: string): Promise<{ config: Config; text: string }> {
  const result = await loadConfigFile(configPath)
  if (!result.ok) throw new ConfigError(result.errors)
  const text = await readFile(configPath, 'utf8')
  const sha256 = createHash('sha256').update(text, 'utf8').digest('hex')
  if (sha256 !== result.config.sha256) {
    throw new Error(`config file ${configPath} changed while it was read; start again`)
  }
  return { config: result.config, text }
}

async function loadRules(path: string | null): Promise<{ rules: Rule[]; yaml: string }> {
  if (path === null) return { rules: [], yaml: '' }
  const result = await loadRulesFile(path)
  if (!result.ok) throw new ConfigError(result.errors)
  return { rules: result.rules, yaml: result.yaml }
}

function defaultRulesPath(configPath: string): string | null {
  const path = join(dirname(configPath), 'rules.yaml')
  return existsSync(path) ? path : null
}

/**
 * Opens everything `blackhole serve` runs, in order: the config and rules,
 * the database with its migrations, the first admin token, the profile
 * versions, the audit log, the supervisor, the detection engine, the HTTP
 * server and the monitors. It does not listen, so the caller calls
 * `app.listen`.
 */
export async function openBlackhole(options: BlackholeOptions): Promise<Blackhole> {
  const configPath = resolve(options.configPath)
  const dataDir = resolve(options.dataDir)
  const { config, text } = await loadConfig(configPath)
  const rulesPath = options.rulesPath === undefined ? defaultRulesPath(configPath) : options.rulesPath && resolve(options.rulesPath)
  const rules = await loadRules(rulesPath)
  const database = await openDatabase(dataDir)
  let audit: AuditLog | null = null
  let incidentDb: Database.Database | null = null
  let detection: DetectionEngine | null = null
  let monitors: Monitors | null = null
  let supervisor: Supervisor | null = null
  let app: FastifyInstance | null = null
  let stopRetention: (() => Promise<void>) | null = null
  // Closes what is open, and cleans up after a failed start too. Detection
  // stops first so that no rule responds while the services shut down.
  const closeAll = async (actor: string) => {
    if (detection !== null) await detection.stop()
    if (supervisor !== null) await supervisor.shutdown(actor)
    // After shutdown, so the services' last exits are still attributed.
    monitors?.stop()
    if (app !== null) await app.close()
    if (stopRetention !== null) await stopRetention()
    if (audit !== null) await audit.close()
    incidentDb?.close()
    await database.close()
  }
  try {
    const created = await ensureAdminToken(database.prisma, options.adminToken)
    if (created !== null && !created.preset) {
      ;(options.print ?? console.log)(`Admin token (shown once): ${created.token}`)
    }
    const profiles = await storeProfiles(database.prisma, text, Object.keys(config.profiles), `config:${configPath}`)

    const paths = auditPaths(dataDir)
    const auditLog = AuditLog.open({ ...paths, hmacKey: loadHmacKey(paths.keyDir), configHash: config.sha256 })
    audit = auditLog
    const retention = options.retention === undefined ? DEFAULT_RETENTION : options.retention
    if (retention !== null) {
      stopRetention = scheduleRetention(auditLog, retention, {
        info: (message) => console.log(message),
        error: (message) => console.error(`blackhole: ${message}`),
      })
    }
    await auditLog.append({
      type: 'SUPERVISOR_STARTED',
      severity: 'info',
      description: `supervisor started with ${Object.keys(config.services).length} services from ${configPath}`,
      metadata: { version: VERSION, pid: process.pid, configPath, configSha256: config.sha256, services: Object.keys(config.services) },
      actor: 'supervisor',
    })

    const services = new Supervisor({
      config,
      configPath,
      dataDir,
      record: (input) => auditLog.append(input),
      graceMs: options.graceMs,
      cgroupRoot: options.cgroupRoot,
    })
    supervisor = services

    // Incidents and resource minutes are written through better-sqlite3
    // like the audit records, on a connection of their own.
    incidentDb = new Database(database.path)
    // Services defined over the API override the config's, before anything starts.
    const definitions = new ServiceDefinitionStore(incidentDb)
    for (const { service, errors } of applyStoredDefinitions({ configText: text, configPath, store: definitions, supervisor: services })) {
      await auditLog.append({
        service,
        type: 'SERVICE_DEFINITION_INVALID',
        severity: 'medium',
        description: `the API definition of ${service} no longer validates against ${configPath} and was not applied: ${errors[0]}`,
        metadata: { errors },
        actor: 'supervisor',
      })
    }
    const incidents = new IncidentStore(incidentDb, auditLog)
    const engine = new DetectionEngine({
      incidents,
      audit: auditLog,
      responder: supervisorResponder(services),
      rules: rules.rules,
      rulesYaml: rules.yaml,
    })
    detection = engine

    const server = await buildServer({
      config,
      prisma: database.prisma,
      database: incidentDb,
      audit: auditLog,
      supervisor: services,
      logger: options.logger,
      webRoot: options.webRoot === undefined ? DEFAULT_WEB_ROOT : options.webRoot,
      streamAuthTimeoutMs: options.streamAuthTimeoutMs,
      streamSlowClientLimit: options.streamSlowClientLimit,
      tls: options.tls,
      limiter: options.limiter,
    })
    app = server
    const monitorLogger = {
      warn: (message: string) => server.log.warn(message),
      error: (message: string) => server.log.error(message),
    }
    const running = startMonitors({
      supervisor: services,
      record: (input) => auditLog.append(input),
      database: incidentDb,
      cgroupRoot: options.cgroupRoot,
      logger: monitorLogger,
    })
    monitors = running
    registerHistoryRoute(server, services, running.history)
    registerServiceDefinitionRoutes(server, { config, configText: text, configPath, store: definitions, supervisor: services, audit: auditLog })
    await server.register(detectionRoutes, { prefix: '/api/v1', engine, incidents, audit: auditLog, rulesFile: rulesPath })
    engine.start(auditLog)
    if (options.autostart !== false) await services.startAll('supervisor')

    let closing: Promise<void> | null = null
    const close = (actor = 'supervisor') => (closing ??= closeAll(actor))
    return {
      app: server,
      config,
      configPath,
      database,
      audit: auditLog,
      supervisor: services,
      profiles,
      detection: engine,
      monitors: running,
      rulesPath,
      close,
    }
  } catch (error) {
    try {
      await closeAll('supervisor')
    } catch {
      // The error that stopped the start matters more than one in its cleanup.
    }
    throw error
  }
}
