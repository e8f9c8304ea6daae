import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { formatSelftest, runSelftest, selftestStatus } from '../diagnostics/selftest.js'
import { DEFAULT_CONFIG, loadConfigOrReport, parseInteger, UsageError, type Output } from './common.js'

export const SELFTEST_USAGE = `Usage: blackhole selftest --profile NAME [--config FILE] [--timeout SECONDS]

Runs escape attempts (privilege, filesystem, network, resources,
environment) inside the sandbox of a profile on this host, through the same
code as blackhole run, and reports each as held or not held. Needs root.

Options:
  --profile NAME     profile under security_profiles in the config
  --config FILE      config file (default: examples/blackhole.yaml in this checkout)
  --timeout SECONDS  time each probe may run (default: 30)
  -h, --help         show this help

Exit status: 0 when every probe held or was skipped, 1 when any did not
hold or the config is invalid, 2 for a usage error.`

export async function selftestCommand(args: string[], output: Output): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      profile: { type: 'string' },
      config: { type: 'string' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  })
  if (values.help) {
    output.out(SELFTEST_USAGE)
    return 0
  }
  if (values.profile === undefined) throw new UsageError('missing --profile NAME', SELFTEST_USAGE)
  const timeoutSeconds = values.timeout === undefined ? undefined : parseInteger('--timeout', values.timeout, 1, 3600, SELFTEST_USAGE)
  const configPath = resolve(values.config ?? DEFAULT_CONFIG)
  const config = await loadConfigOrReport(configPath, output)
  if (config === null) return 1
  if (!Object.hasOwn(config.profiles, values.profile)) {
    const known = Object.keys(config.profiles)
    throw new UsageError(
      `profile "${values.profile}" not found in ${configPath}; known profiles: ${known.length === 0 ? 'none' : known.join(', ')}`,
      SELFTEST_USAGE,
    )
  }
  const report = await runSelftest({ config, configPath, profileName: values.profile, timeoutSeconds })
  output.out(formatSelftest(report))
  return selftestStatus(report)
}
