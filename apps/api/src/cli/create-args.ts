import { parseArgs } from 'node:util'
import { isRole, ROLES, type Role } from '../db/tokens.js'
import { UsageError, type Output } from './common.js'

/** The parsed `--name NAME --role ROLE [--data DIR]` of a `create` subcommand. */
export interface CreateArgs {
  name: string
  role: Role
  data: string | undefined
}

/**
 * Parses `COMMAND create --name NAME --role ROLE [--data DIR]`, shared by
 * `token create` and `user create`. Returns the exit status instead when the
 * arguments asked only for help.
 */
export function parseCreateArgs(
  command: string, args: string[], usage: string, namePattern: RegExp, output: Output,
): CreateArgs | number {
  const [subcommand, ...rest] = args
  if (subcommand === undefined || subcommand === '--help' || subcommand === '-h') {
    output.out(usage)
    return subcommand === undefined ? 2 : 0
  }
  if (subcommand !== 'create') throw new UsageError(`unknown ${command} subcommand "${subcommand}"; expected create`, usage)
  const { values } = parseArgs({
    args: rest,
    options: {
      name: { type: 'string' },
      role: { type: 'string' },
      data: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  })
  if (values.help) {
    output.out(usage)
    return 0
  }
  const { name, role } = values
  if (name === undefined) throw new UsageError('missing --name NAME', usage)
  if (!namePattern.test(name)) {
    throw new UsageError(`invalid --name "${name}": use 1 to 64 letters, digits, and . _ @ - (not first)`, usage)
  }
  if (role === undefined) throw new UsageError('missing --role ROLE', usage)
  if (!isRole(role)) throw new UsageError(`invalid --role "${role}": use one of ${ROLES.join(', ')}`, usage)
  return { name, role, data: values.data }
}
