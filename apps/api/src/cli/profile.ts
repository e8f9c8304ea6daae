import { accessSync, constants, readFileSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import {
  EXPORT_FORMATS,
  exportProfile,
  formatScore,
  resolveIdentity,
  scoreProfile,
  type ExportFormat,
  type ExportOptions,
} from '@blackhole/policy'
import type { Config, Profile } from '@blackhole/policy'
import { DEFAULT_CONFIG, loadConfigOrReport, UsageError, type Output } from './common.js'

export const PROFILE_USAGE = `Usage:
  blackhole profile validate FILE
  blackhole profile export --format FORMAT NAME [--config FILE]
  blackhole profile score NAME [--config FILE] [--threshold N]

validate  checks a config file and prints every error as FILE:LINE:COL: path: message
export    writes profile NAME in another format (apparmor, seccomp, systemd, oci,
          sbpl, windows) to stdout; rules the format cannot express go to stderr
score     prints the profile's exposure score from 0 (safest) to 10

Options:
  --config FILE    config file (default: examples/blackhole.yaml in this checkout)
  --format FORMAT  export format
  --threshold N    exit 1 when the score is above N (0 to 10)
  -h, --help       show this help`

// Settings at or above this exposure are repeated on stderr as warnings, so
// a CI log shows them apart from the table.
const WARNING_EXPOSURE = 0.5

function findProfile(config: Config, name: string): Profile {
  const profile = Object.hasOwn(config.profiles, name) ? config.profiles[name] : undefined
  if (profile === undefined) {
    const known = Object.keys(config.profiles)
    throw new UsageError(`profile "${name}" not found; known profiles: ${known.length === 0 ? 'none' : known.join(', ')}`, PROFILE_USAGE)
  }
  return profile
}

function findInPath(command: string): string | null {
  if (isAbsolute(command)) return command
  for (const folder of (process.env.PATH ?? '').split(':')) {
    if (folder === '') continue
    const candidate = join(folder, command)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // Not in this folder.
    }
  }
  return null
}

/**
 * Fills in what the export formats cannot learn from the profile alone:
 * the first service that uses it supplies the name and the command, and
 * the host's account files supply the uid and gid.
 */
function exportOptions(config: Config, profile: Profile): ExportOptions {
  const options: ExportOptions = {}
  const service = Object.values(config.services).find((definition) => definition.profile === profile.name)
  const serviceName = service?.name ?? profile.name
  if (service !== undefined) {
    options.serviceName = service.name
    const program = findInPath(service.command)
    if (program !== null) options.command = [program, ...service.args]
  }
  try {
    const identity = resolveIdentity(profile, serviceName, readFileSync('/etc/passwd', 'utf8'), readFileSync('/etc/group', 'utf8'))
    options.identity = { uid: identity.uid, gid: identity.gid }
  } catch {
    // Without readable account files each format uses its default ids and warns about them.
  }
  return options
}

async function validate(args: string[], output: Output): Promise<number> {
  const { positionals } = parseArgs({ args, options: {}, strict: true, allowPositionals: true })
  if (positionals.length !== 1) throw new UsageError('profile validate takes exactly one FILE', PROFILE_USAGE)
  const file = positionals[0]!
  const config = await loadConfigOrReport(file, output)
  if (config === null) return 1
  const profiles = Object.keys(config.profiles).length
  const services = Object.keys(config.services).length
  output.out(`${file}: valid (${profiles} profiles, ${services} services)`)
  return 0
}

async function exportCommand(args: string[], output: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { format: { type: 'string' }, config: { type: 'string' } },
    strict: true,
    allowPositionals: true,
  })
  const formats = EXPORT_FORMATS.map((info) => info.name as string)
  if (values.format === undefined) throw new UsageError(`missing --format FORMAT; use one of ${formats.join(', ')}`, PROFILE_USAGE)
  if (!formats.includes(values.format)) {
    throw new UsageError(`unknown --format "${values.format}"; use one of ${formats.join(', ')}`, PROFILE_USAGE)
  }
  if (positionals.length !== 1) throw new UsageError('profile export takes exactly one profile NAME', PROFILE_USAGE)
  const config = await loadConfigOrReport(resolve(values.config ?? DEFAULT_CONFIG), output)
  if (config === null) return 1
  const profile = findProfile(config, positionals[0]!)
  const result = exportProfile(profile, values.format as ExportFormat, exportOptions(config, profile))
  for (const warning of result.warnings) output.err(`warning: ${warning}`)
  output.out(result.text.replace(/\n$/, ''))
  return 0
}

async function score(args: string[], output: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { config: { type: 'string' }, threshold: { type: 'string' } },
    strict: true,
    allowPositionals: true,
  })
  if (positionals.length !== 1) throw new UsageError('profile score takes exactly one profile NAME', PROFILE_USAGE)
  let threshold: number | null = null
  if (values.threshold !== undefined) {
    threshold = Number(values.threshold)
    if (!/^\d+(\.\d+)?$/.test(values.threshold) || threshold > 10) {
      throw new UsageError(`invalid --threshold "${values.threshold}": use a number from 0 to 10`, PROFILE_USAGE)
    }
  }
  const config = await loadConfigOrReport(resolve(values.config ?? DEFAULT_CONFIG), output)
  if (config === null) return 1
  const profile = findProfile(config, positionals[0]!)
  const result = scoreProfile(profile)
  output.out(formatScore(result).replace(/\n$/, ''))
  for (const line of result.lines) {
    if (line.exposure >= WARNING_EXPOSURE) output.err(`warning: ${line.setting}: ${line.reason}`)
  }
  if (threshold !== null && result.score > threshold) {
    output.err(`blackhole: profile ${profile.name} scores ${result.score.toFixed(1)}, above the threshold ${threshold}`)
    return 1
  }
  return 0
}

export async function profileCommand(args: string[], output: Output): Promise<number> {
  const [subcommand, ...rest] = args
  if (subcommand === undefined || subcommand === '--help' || subcommand === '-h') {
    output.out(PROFILE_USAGE)
    return subcommand === undefined ? 2 : 0
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    output.out(PROFILE_USAGE)
    return 0
  }
  switch (subcommand) {
    case 'validate':
      return validate(rest, output)
    case 'export':
      return exportCommand(rest, output)
    case 'score':
      return score(rest, output)
    default:
      throw new UsageError(`unknown profile subcommand "${subcommand}"; expected validate, export or score`, PROFILE_USAGE)
  }
}
