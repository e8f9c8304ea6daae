import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { DEFAULT_RETENTION } from '../audit/retention-schedule.js'
import { ConfigError, openBlackhole, type Blackhole, type TlsOptions } from '../server/app.js'
import { formatError } from '@blackhole/policy'
import {
  DEFAULT_CONFIG,
  DEFAULT_DATA_DIR,
  DEFAULT_HOST,
  DEFAULT_PORT,
  isLoopback,
  parseInteger,
  UsageError,
  type Output,
} from './common.js'

export const SERVE_USAGE = `Usage: blackhole serve [--config FILE] [--rules FILE] [--data DIR] [--host ADDR] [--port N]
                       [--cgroup-parent NAME] [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]
                       [--allow-insecure-remote] [--retain-records N] [--retain-days N]

Runs the supervisor, starts every service with autostart and serves the API
and the dashboard.

Options:
  --config FILE  config with security_profiles and services
                 (default: examples/blackhole.yaml in this checkout)
  --rules FILE   detection rules (default: rules.yaml beside the config,
                 when it exists); PUT /api/v1/rules rewrites this file
  --data DIR     data folder for the database, audit log and keys, created
                 with mode 0700 (default: ./data)
  --host ADDR    address to listen on (default: ${DEFAULT_HOST}); an address
                 other than loopback needs --tls-cert and --tls-key
  --port N       TCP port to listen on, 0 for any free port (default: ${DEFAULT_PORT})
  --cgroup-parent NAME
                 cgroup folder that holds the services' cgroups in each
                 hierarchy (default: blackhole); two supervisors on one host
                 need different names
  --tls-cert FILE
                 PEM certificate chain; serves HTTPS and WSS
  --tls-key FILE PEM private key of that certificate
  --tls-client-ca FILE
                 PEM CA certificates; clients must present a certificate
                 signed by one of them (mutual TLS), and its subject is
                 recorded before the token or user in the audit actor
  --allow-insecure-remote
                 listen on a non-loopback address without TLS, so tokens,
                 passwords and cookies cross the network in clear text
  --retain-records N
                 keep at most N audit records; older ones are pruned after
                 a signed checkpoint, hourly (default: 5000000, 0 for no cap)
  --retain-days N
                 prune audit records older than N days (default: 365, 0 for
                 no age limit)
  -h, --help     show this help

On the first start an admin token is printed once; set BLACKHOLE_ADMIN_TOKEN
to store that value instead. BLACKHOLE_LOG_LEVEL sets the log level (info by
default). SIGINT or SIGTERM stops every service and exits; a second signal
exits at once.`

// One folder name: the supervisor joins it to each hierarchy's mount point.
const CGROUP_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/

export async function serveCommand(args: string[], output: Output): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      rules: { type: 'string' },
      data: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'cgroup-parent': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-client-ca': { type: 'string' },
      'allow-insecure-remote': { type: 'boolean' },
      'retain-records': { type: 'string' },
      'retain-days': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  })
  if (values.help) {
    output.out(SERVE_USAGE)
    return 0
  }
  const host = values.host ?? DEFAULT_HOST
  const tls = readTlsOptions(values['tls-cert'], values['tls-key'], values['tls-client-ca'])
  const insecureRemote = checkRemoteAccess(host, tls !== null, values['allow-insecure-remote'] === true)
  const port = values.port === undefined ? DEFAULT_PORT : parseInteger('--port', values.port, 0, 65535, SERVE_USAGE)
  const retainRecords = values['retain-records'] === undefined
    ? DEFAULT_RETENTION.maxRecords
    : parseInteger('--retain-records', values['retain-records'], 0, Number.MAX_SAFE_INTEGER, SERVE_USAGE)
  const retainDays = values['retain-days'] === undefined
    ? DEFAULT_RETENTION.maxAgeDays
    : parseInteger('--retain-days', values['retain-days'], 0, 100_000, SERVE_USAGE)
  const retention = {
    ...(retainRecords > 0 ? { maxRecords: retainRecords } : {}),
    ...(retainDays > 0 ? { maxAgeDays: retainDays } : {}),
  }
  const cgroupParent = values['cgroup-parent']
  if (cgroupParent !== undefined && !CGROUP_NAME.test(cgroupParent)) {
    throw new UsageError(
      `invalid --cgroup-parent "${cgroupParent}": use 1 to 64 letters, digits, . _ - (not starting with .)`,
      SERVE_USAGE,
    )
  }

  // Signals are handled from the start: one that arrives while services
  // launch stops them once the launch is done, instead of leaving them
  // running without a supervisor.
  let signalled: NodeJS.Signals | null = null
  let stop: (() => void) | null = null
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled !== null) {
      output.err(`blackhole: second ${signal}, exiting without stopping the services`)
      process.exit(1)
    }
    signalled = signal
    stop?.()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const removeSignalHandlers = () => {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }

  let blackhole: Blackhole
  try {
    blackhole = await openBlackhole({
      configPath: values.config ?? DEFAULT_CONFIG,
      dataDir: values.data ?? DEFAULT_DATA_DIR,
      rulesPath: values.rules,
      cgroupRoot: cgroupParent,
      retention: retainRecords === 0 && retainDays === 0 ? null : retention,
      tls: tls ?? undefined,
      adminToken: process.env.BLACKHOLE_ADMIN_TOKEN,
      print: output.out,
      logger: { level: process.env.BLACKHOLE_LOG_LEVEL ?? 'info' },
      // Services start after listen succeeds, so a port already in use
      // fails the start before anything is launched.
      autostart: false,
    })
  } catch (error) {
    removeSignalHandlers()
    if (error instanceof ConfigError) {
      for (const problem of error.errors) output.err(formatError(problem))
      return 1
    }
    throw error
  }

  const { app, supervisor } = blackhole
  if (insecureRemote) {
    const warning = `listening on ${host} without TLS: tokens, passwords and session cookies cross the network in clear text`
    output.err(`blackhole: WARNING: ${warning}`)
    app.log.warn({ host }, warning)
    await blackhole.audit.append({
      type: 'INSECURE_REMOTE_LISTEN',
      severity: 'high',
      description: `API ${warning}`,
      metadata: { host, port },
      actor: 'cli',
    })
  }
  const stopped = new Promise<number>((resolve) => {
    stop = () => {
      app.log.info({ signal: signalled }, 'stopping services and shutting down')
      blackhole.close('supervisor').then(
        () => {
          removeSignalHandlers()
          output.out('Blackhole stopped')
          resolve(0)
        },
        (error: unknown) => {
          removeSignalHandlers()
          output.err(`blackhole: shutdown failed: ${(error as Error).message}`)
          resolve(1)
        },
      )
    }
  })
  if (signalled !== null) {
    stop!()
    return stopped
  }

  try {
    await app.listen({ host, port })
  } catch (error) {
    output.err(`blackhole: cannot listen on ${host}:${port}: ${(error as Error).message}`)
    await blackhole.close('supervisor')
    removeSignalHandlers()
    return 1
  }
  const address = app.server.address()
  const boundPort = typeof address === 'object' && address !== null ? address.port : port
  const shownHost = host.includes(':') ? `[${host}]` : host
  output.out(`Blackhole listening on ${tls === null ? 'http' : 'https'}://${shownHost}:${boundPort}`)
  if (signalled === null) {
    await supervisor.startAll('supervisor').catch((error: unknown) => {
      app.log.error({ err: error }, 'starting the services failed')
    })
  }
  return stopped
}

function readPem(option: string, path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (error) {
    throw new UsageError(`cannot read ${option} "${path}": ${(error as Error).message}`, SERVE_USAGE)
  }
}

/** Reads the TLS files; returns null when no TLS option is given. */
export function readTlsOptions(cert: string | undefined, key: string | undefined, clientCa: string | undefined): TlsOptions | null {
  if (cert === undefined && key === undefined && clientCa === undefined) return null
  if (cert === undefined || key === undefined) {
    throw new UsageError('--tls-cert FILE and --tls-key FILE go together; give both', SERVE_USAGE)
  }
  return {
    cert: readPem('--tls-cert', cert),
    key: readPem('--tls-key', key),
    clientCa: clientCa === undefined ? undefined : readPem('--tls-client-ca', clientCa),
  }
}

/**
 * Checks that a non-loopback --host has TLS. Returns true when the server
 * will listen beyond loopback without TLS because --allow-insecure-remote
 * was given; throws a UsageError naming the flags when it was not.
 */
export function checkRemoteAccess(host: string, tls: boolean, allowInsecure: boolean): boolean {
  if (isLoopback(host) || tls) return false
  if (allowInsecure) return true
  throw new UsageError(
    `--host "${host}" rejected: it is not a loopback address, and remote access needs TLS. ` +
      'Add --tls-cert FILE --tls-key FILE (and --tls-client-ca FILE for client certificates), ' +
      'or --allow-insecure-remote to send tokens in clear text',
    SERVE_USAGE,
  )
}
