import { openDatabase } from '../db/client.js'
import { createToken } from '../db/tokens.js'
import { DEFAULT_DATA_DIR, type Output } from './common.js'
import { parseCreateArgs } from './create-args.js'

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
  const parsed = parseCreateArgs('token', args, TOKEN_USAGE, TOKEN_NAME, output)
  if (typeof parsed === 'number') return parsed
  const { name, role } = parsed

  const database = await openDatabase(parsed.data ?? DEFAULT_DATA_DIR)
  try {
    const { token } = await createToken(database.prisma, name, role)
    output.out(`Token for ${name} (${role}), shown once: ${token}`)
    return 0
  } finally {
    await database.close()
  }
}
