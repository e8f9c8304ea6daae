import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import * as policy from '@blackhole/policy'
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

interface ExportResult {
  text: string
  warnings: string[]
}

interface ScoreResult {
  score: number
  rating?: string
  lines?: { setting: string; weight: number; exposure: number; reason: string }[]
}

// The export and score functions come from another part of the policy
// package; they are looked up at run time so this command still loads
// while a build lacks them, and says so when used.
function policyFunction<T>(name: string): T {
  const value = (policy as unknown as Record<string, unknown>)[name]
  if (typeof value !== 'function') {
    throw new Error(`this build of @blackhole/policy has no ${name}; rebuild with pnpm build`)
  }
  return value as T
}

function findProfile(config: Config, name: string): Profile {
  const profile = Object.hasOwn(config.profiles, name) ? config.profiles[name] : undefined
  if (profile === undefined) {
    const known = Object.keys(config.profiles)
    throw new UsageError(`profile "${name}" not found; known profiles: ${known.length === 0 ? 'none' : known.join(', ')}`, PROFILE_USAGE)
  }
  return profile
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
  if (values.format === undefined) throw new UsageError('missing --format FORMAT', PROFILE_USAGE)
  if (positionals.length !== 1) throw new UsageError('profile export takes exactly one profile NAME', PROFILE_USAGE)
  const config = await loadConfigOrReport(resolve(values.config ?? DEFAULT_CONFIG), output)
  if (config === null) return 1
  const profile = findProfile(config, positionals[0]!)
  const exportProfile = policyFunction<(profile: Profile, format: string) => ExportResult>('exportProfile')
  const result = exportProfile(profile, values.format)
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
  const scoreProfile = policyFunction<(profile: Profile) => ScoreResult>('scoreProfile')
  const result = scoreProfile(profile)
  const format = (policy as unknown as Record<string, unknown>).formatScore
  if (typeof format === 'function') output.out(String((format as (result: ScoreResult) => string)(result)).replace(/\n$/, ''))
  else output.out(`${profile.name}: exposure ${result.score.toFixed(1)}${result.rating ? ` (${result.rating})` : ''}`)
  for (const line of result.lines ?? []) {
    if (line.exposure > 0) output.err(`warning: ${line.setting}: ${line.reason}`)
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
