import { parseArgs } from 'node:util'
import { ConfigError, openBlackhole, type Blackhole } from '../server/app.js'
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
                       [--cgroup-parent NAME]

Runs the supervisor, starts every service with autostart and serves the API
and the dashboard.

Options:
  --config FILE  config with security_profiles and services
                 (default: examples/blackhole.yaml in this checkout)
  --rules FILE   detection rules (default: rules.yaml beside the config,
                 when it exists); PUT /api/v1/rules rewrites this file
  --data DIR     data folder for the database, audit log and keys, created
                 with mode 0700 (default: ./data)
  --host ADDR    loopback address to listen on (default: ${DEFAULT_HOST})
  --port N       TCP port to listen on, 0 for any free port (default: ${DEFAULT_PORT})
  --cgroup-parent NAME
                 cgroup folder that holds the services' cgroups in each
                 hierarchy (default: blackhole); two supervisors on one host
                 need different names
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
  if (!isLoopback(host)) {
    throw new UsageError(
      `--host "${host}" rejected: it is not a loopback address, and the API has no TLS yet. ` +
        'Listen on 127.0.0.1 or ::1 and put a TLS-terminating proxy in front for remote access',
      SERVE_USAGE,
    )
  }
  const port = values.port === undefined ? DEFAULT_PORT : parseInteger('--port', values.port, 0, 65535, SERVE_USAGE)
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
  output.out(`Blackhole listening on http://${shownHost}:${boundPort}`)
  if (signalled === null) {
    await supervisor.startAll('supervisor').catch((error: unknown) => {
      app.log.error({ err: error }, 'starting the services failed')
    })
  }
  return stopped
}
