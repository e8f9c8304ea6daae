import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { formatVerifyReport, verifyDataDir, verifyExitCode } from '../audit/index.js'
import { DEFAULT_DATA_DIR, UsageError, type Output } from './common.js'

export const AUDIT_USAGE = `Usage: blackhole audit verify [--data DIR] [--checkpoints FILE]

Recomputes the audit log's hash chain and checks it against the signed
checkpoints and the JSONL copy; names the first record that was edited,
removed, reordered or cut off.

Options:
  --data DIR          data folder (default: ./data)
  --checkpoints FILE  checkpoints kept off this host, as exported JSON
  -h, --help          show this help

Exit status: 0 when the log is intact, 1 when it was tampered with, 2 when
only crash damage was found and repaired.`

export async function auditCommand(args: string[], output: Output): Promise<number> {
  const [subcommand, ...rest] = args
  if (subcommand === undefined || subcommand === '--help' || subcommand === '-h') {
    output.out(AUDIT_USAGE)
    return subcommand === undefined ? 2 : 0
  }
  if (subcommand !== 'verify') throw new UsageError(`unknown audit subcommand "${subcommand}"; expected verify`, AUDIT_USAGE)
  const { values } = parseArgs({
    args: rest,
    options: {
      data: { type: 'string' },
      checkpoints: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  })
  if (values.help) {
    output.out(AUDIT_USAGE)
    return 0
  }
  const report = verifyDataDir(resolve(values.data ?? DEFAULT_DATA_DIR), {
    externalCheckpoints: values.checkpoints === undefined ? undefined : resolve(values.checkpoints),
  })
  output.out(formatVerifyReport(report))
  return verifyExitCode(report)
}
