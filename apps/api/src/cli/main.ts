import { pathToFileURL } from 'node:url'
import { consoleOutput, EXIT_USAGE, UsageError, type Output } from './common.js'

export const MAIN_USAGE = `Usage: blackhole COMMAND [OPTIONS]

Commands:
  serve            run the supervisor, the API and the dashboard
  run              run one command in a profile's sandbox
  learn            run a service permissively and propose its profile
  selftest         probe a profile's sandbox with escape attempts
  doctor           report what this host offers the sandbox
  profile          validate, export or score security profiles
  audit verify     check the audit log's hash chain and checkpoints
  report           write the compliance report of a period
  token create     create an API token
  user create      create a dashboard user with a password

Run \`blackhole COMMAND --help\` for a command's options.`

type Command = (args: string[], output: Output) => Promise<number>

// Each command is imported only when run: `profile`, `audit` and `token`
// then work without the native addon, which the other commands load.
const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./serve.js')).serveCommand,
  run: async () => (await import('./run.js')).runCommand,
  learn: async () => (await import('./learn.js')).learnCommand,
  selftest: async () => (await import('./selftest.js')).selftestCommand,
  doctor: async () => (await import('./doctor.js')).doctorCommand,
  profile: async () => (await import('./profile.js')).profileCommand,
  audit: async () => (await import('./audit.js')).auditCommand,
  report: async () => (await import('./report.js')).reportCommand,
  token: async () => (await import('./token.js')).tokenCommand,
  user: async () => (await import('./user.js')).userCommand,
}

/** Runs the command line `args` (without node and the script) and returns the exit status. */
export async function main(args: string[], output: Output = consoleOutput): Promise<number> {
  const [name, ...rest] = args
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    output.out(MAIN_USAGE)
    return name === undefined ? EXIT_USAGE : 0
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  if (load === undefined) {
    output.err(`blackhole: unknown command "${name}"`)
    output.err('')
    output.err(MAIN_USAGE)
    return EXIT_USAGE
  }
  try {
    const command = await load()
    return await command(rest, output)
  } catch (error) {
    if (error instanceof UsageError) {
      output.err(`blackhole: ${error.message}`)
      output.err('')
      output.err(error.usage)
      return EXIT_USAGE
    }
    // parseArgs raises these for unknown options and missing values.
    const code = (error as { code?: unknown }).code
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      output.err(`blackhole ${name}: ${(error as Error).message}`)
      output.err(`Run \`blackhole ${name} --help\` for the options.`)
      return EXIT_USAGE
    }
    output.err(`blackhole ${name}: ${(error as Error).message}`)
    return 1
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (status) => {
      process.exitCode = status
    },
    (error: unknown) => {
      process.stderr.write(`blackhole: ${(error as Error).stack ?? String(error)}\n`)
      process.exitCode = 1
    },
  )
}
