import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { runInSandbox } from '../sandbox/run.js'
import { DEFAULT_CONFIG, DEFAULT_DATA_DIR, loadConfigOrReport, UsageError, type Output } from './common.js'

export const RUN_USAGE = `Usage: blackhole run --profile NAME [--config FILE] [--data DIR] -- CMD [ARGS...]

Runs one command in the sandbox a profile describes, with this terminal's
stdin, stdout and stderr, and exits with the command's status (128 + the
signal number when a signal ended it).

Options:
  --profile NAME  profile under security_profiles in the config
  --config FILE   config file (default: examples/blackhole.yaml in this checkout)
  --data DIR      folder for the profile's persistent paths (default: ./data)
  -h, --help      show this help

Exit status: the command's, 1 for an invalid config, 2 for a usage error,
125 when the sandbox could not be set up.`

/** Exit status when the sandbox could not launch the command, as `docker run` and `podman run` use. */
export const EXIT_LAUNCH_FAILED = 125

export async function runCommand(args: string[], output: Output): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      profile: { type: 'string' },
      config: { type: 'string' },
      data: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  })
  if (values.help) {
    output.out(RUN_USAGE)
    return 0
  }
  if (values.profile === undefined) throw new UsageError('missing --profile NAME', RUN_USAGE)
  if (positionals.length === 0) throw new UsageError('missing the command to run after --', RUN_USAGE)

  const configPath = resolve(values.config ?? DEFAULT_CONFIG)
  const config = await loadConfigOrReport(configPath, output)
  if (config === null) return 1
  if (!Object.hasOwn(config.profiles, values.profile)) {
    const known = Object.keys(config.profiles)
    throw new UsageError(
      `profile "${values.profile}" not found in ${configPath}; known profiles: ${known.length === 0 ? 'none' : known.join(', ')}`,
      RUN_USAGE,
    )
  }
  try {
    return await runInSandbox({
      config,
      configPath,
      profileName: values.profile,
      argv: positionals,
      dataDir: resolve(values.data ?? DEFAULT_DATA_DIR),
    })
  } catch (error) {
    output.err(`blackhole: launch failed: ${(error as Error).message}`)
    return EXIT_LAUNCH_FAILED
  }
}
