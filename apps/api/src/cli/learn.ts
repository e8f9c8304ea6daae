import { parseArgs } from 'node:util'
import { formatError } from '@blackhole/policy'
import { LearnManager, MAX_LEARN_SECONDS, MIN_LEARN_SECONDS, type LearnSession } from '../learn/session.js'
import { ConfigError, openBlackhole } from '../server/app.js'
import { DEFAULT_CONFIG, DEFAULT_DATA_DIR, UsageError, type Output } from './common.js'

export const LEARN_USAGE = `Usage: blackhole learn --service NAME [--duration TIME] [--config FILE] [--data DIR]
                       [--cgroup-parent NAME] [--apply]

Runs one service with its profile in permissive mode for a while, records
the syscalls its profile would deny, the paths and the TCP ports it uses,
and prints the smallest profile change that allows them as a unified diff.
Default-denied syscalls that no profile may allow are listed, not proposed.

Options:
  --service NAME      service to learn (required)
  --duration TIME     how long to run it: 90, 90s, 5m or 1h (default: 60s,
                      at most 1h)
  --config FILE       config with security_profiles and services
                      (default: examples/blackhole.yaml in this checkout)
  --data DIR          data folder, as for serve (default: ./data)
  --cgroup-parent NAME
                      cgroup folder for the service (default: blackhole)
  --apply             store the proposal as a new profile version
  -h, --help          show this help

The command opens the data folder itself, so stop \`blackhole serve\` on it
first, or use POST /api/v1/services/NAME/learn on the running server.`

const UNIT_SECONDS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600 }

/** Parses 90, 90s, 5m or 1h into whole seconds within the learn limits. */
export function parseDuration(text: string): number {
  const match = /^(\d+)(s|m|h)?$/.exec(text.trim())
  const seconds = match === null ? Number.NaN : Number(match[1]) * UNIT_SECONDS[match[2] ?? '']!
  if (!Number.isSafeInteger(seconds) || seconds < MIN_LEARN_SECONDS || seconds > MAX_LEARN_SECONDS) {
    throw new UsageError(`invalid --duration "${text}": use a time from ${MIN_LEARN_SECONDS}s to ${MAX_LEARN_SECONDS / 3600}h, such as 90s or 5m`, LEARN_USAGE)
  }
  return seconds
}

export async function learnCommand(args: string[], output: Output): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      service: { type: 'string' },
      duration: { type: 'string' },
      config: { type: 'string' },
      data: { type: 'string' },
      'cgroup-parent': { type: 'string' },
      apply: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  })
  if (values.help) {
    output.out(LEARN_USAGE)
    return 0
  }
  const service = values.service
  if (service === undefined) throw new UsageError('missing --service NAME', LEARN_USAGE)
  const duration = parseDuration(values.duration ?? '60s')

  let blackhole
  try {
    blackhole = await openBlackhole({
      configPath: values.config ?? DEFAULT_CONFIG,
      dataDir: values.data ?? DEFAULT_DATA_DIR,
      cgroupRoot: values['cgroup-parent'],
      rulesPath: null,
      webRoot: null,
      logger: false,
      autostart: false,
      print: output.out,
    })
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.errors) output.err(formatError(problem))
      return 1
    }
    throw error
  }
  try {
    if (!Object.hasOwn(blackhole.config.services, service)) {
      output.err(`blackhole learn: service "${service}" not found; known services: ${Object.keys(blackhole.config.services).join(', ') || 'none'}`)
      return 1
    }
    const manager = new LearnManager({
      config: blackhole.config, prisma: blackhole.database.prisma, audit: blackhole.audit, supervisor: blackhole.supervisor,
    })
    const { done } = await manager.start(service, duration, 'cli')
    output.out(`Learning ${service} for ${duration} s in permissive mode...`)
    const session = await done
    printSession(session, output)
    if (session.state !== 'completed') return 1
    if (values.apply && session.proposal?.unchanged === false) {
      const applied = await manager.apply(service, 'cli')
      output.out(`Stored profile ${applied.profile} version ${applied.version}.`)
    }
    return 0
  } finally {
    await blackhole.close('cli')
  }
}

function printSession(session: LearnSession, output: Output): void {
  if (session.state === 'failed') {
    output.err(`blackhole learn: the session failed: ${session.error ?? 'unknown error'}`)
    return
  }
  const activity = session.activity
  const proposal = session.proposal
  if (activity === null || proposal === null) return
  const syscalls = Object.entries(activity.syscalls).map(([name, count]) => `${name} (${count})`)
  output.out(`Records read: ${activity.records}`)
  output.out(`Syscalls the profile denies: ${syscalls.join(', ') || 'none'}`)
  output.out(`TCP ports: ${activity.ports.join(', ') || 'none'}`)
  const denied = activity.paths.filter((path) => path.denied)
  output.out(`Paths Landlock denied: ${denied.map((path) => `${path.path} (${path.access})`).join(', ') || 'none'}`)
  for (const item of proposal.notProposed) output.out(`Not proposed: ${item.kind} ${item.value}: ${item.reason}`)
  for (const error of proposal.errors) output.err(`Proposal invalid: ${error}`)
  if (proposal.unchanged) {
    output.out(`No change to profile ${proposal.profile} is needed.`)
    return
  }
  output.out('')
  output.out(proposal.diff.trimEnd())
}
