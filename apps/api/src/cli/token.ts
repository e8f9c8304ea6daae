import { parseArgs } from 'node:util'
import { openDatabase } from '../db/client.js'
import { createToken, isRole, ROLES } from '../db/tokens.js'
import { DEFAULT_DATA_DIR, UsageError, type Output } from './common.js'

export const TOKEN_USAGE = `Usage: blackhole token create --name NAME --role admin|operator|viewer [--data DIR]

Creates an API token and prints it once; only its SHA-256 hash is stored.
A viewer may only read; an operator and an admin may also act on services.

Options:
  --name NAME   label recorded as the actor (token:NAME) in audit events
  --role ROLE   admin, operator or viewer
  --data DIR    data folder (default: ./data)
  -h, --help    show this help`

const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/

export async function tokenCommand(args: string[], output: Output): Promise<number> {
  const [subcommand, ...rest] = args
  if (subcommand === undefined || subcommand === '--help' || subcommand === '-h') {
    output.out(TOKEN_USAGE)
    return subcommand === undefined ? 2 : 0
  }
  if (subcommand !== 'create') throw new UsageError(`unknown token subcommand "${subcommand}"; expected create`, TOKEN_USAGE)
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
    output.out(TOKEN_USAGE)
    return 0
  }
  const { name, role } = values
  if (name === undefined) throw new UsageError('missing --name NAME', TOKEN_USAGE)
  if (!TOKEN_NAME.test(name)) {
    throw new UsageError(`invalid --name "${name}": use 1 to 64 letters, digits, and . _ @ - (not first)`, TOKEN_USAGE)
  }
  if (role === undefined) throw new UsageError('missing --role ROLE', TOKEN_USAGE)
  if (!isRole(role)) throw new UsageError(`invalid --role "${role}": use one of ${ROLES.join(', ')}`, TOKEN_USAGE)

  const database = await openDatabase(values.data ?? DEFAULT_DATA_DIR)
  try {
    const { token } = await createToken(database.prisma, name, role)
    output.out(`Token for ${name} (${role}), shown once: ${token}`)
    return 0
  } finally {
    await database.close()
  }
}
