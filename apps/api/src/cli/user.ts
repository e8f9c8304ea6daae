import { parseArgs } from 'node:util'
import Database from 'better-sqlite3'
import { openDatabase } from '../db/client.js'
import { isRole, ROLES } from '../db/tokens.js'
import { StoreError, USER_NAME, UserStore } from '../db/users.js'
import { DEFAULT_DATA_DIR, UsageError, type Output } from './common.js'

export const USER_USAGE = `Usage: blackhole user create --name NAME --role admin|operator|viewer [--data DIR]

Creates a dashboard user. The password is read from standard input: typed
at a prompt without echo on a terminal, or the first line of a pipe, as in
\`printf '%s\\n' "$PASSWORD" | blackhole user create ...\`. Only its scrypt
hash is stored.

Options:
  --name NAME   user name, the actor (user:NAME) in audit events
  --role ROLE   admin (profiles, rules, users), operator (start, stop,
                isolate, block, terminate, incidents) or viewer (read only)
  --data DIR    data folder (default: ./data)
  -h, --help    show this help`

/** Reads a password: from a prompt without echo on a terminal, else the first line of stdin. */
export async function readPasswordFromStdin(prompt: string, output: Output): Promise<string> {
  const stdin = process.stdin
  if (stdin.isTTY) {
    output.err(prompt)
    stdin.setRawMode(true)
    stdin.resume()
    stdin.setEncoding('utf8')
    return new Promise((resolve, reject) => {
      let password = ''
      const onData = (chunk: string) => {
        for (const character of chunk) {
          if (character === '\r' || character === '\n') {
            finish()
            resolve(password)
            return
          }
          if (character === '\u0003') {
            finish()
            reject(new Error('interrupted'))
            return
          }
          if (character === '\u007f') password = password.slice(0, -1)
          else password += character
        }
      }
      const finish = () => {
        stdin.off('data', onData)
        stdin.setRawMode(false)
        stdin.pause()
      }
      stdin.on('data', onData)
    })
  }
  let text = ''
  for await (const chunk of stdin) {
    text += String(chunk)
    if (text.includes('\n')) break
  }
  return text.split(/\r?\n/)[0] ?? ''
}

export async function userCommand(
  args: string[],
  output: Output,
  readPassword: (prompt: string, output: Output) => Promise<string> = readPasswordFromStdin,
): Promise<number> {
  const [subcommand, ...rest] = args
  if (subcommand === undefined || subcommand === '--help' || subcommand === '-h') {
    output.out(USER_USAGE)
    return subcommand === undefined ? 2 : 0
  }
  if (subcommand !== 'create') throw new UsageError(`unknown user subcommand "${subcommand}"; expected create`, USER_USAGE)
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
    output.out(USER_USAGE)
    return 0
  }
  const { name, role } = values
  if (name === undefined) throw new UsageError('missing --name NAME', USER_USAGE)
  if (!USER_NAME.test(name)) {
    throw new UsageError(`invalid --name "${name}": use 1 to 64 letters, digits, and . _ @ - (not first)`, USER_USAGE)
  }
  if (role === undefined) throw new UsageError('missing --role ROLE', USER_USAGE)
  if (!isRole(role)) throw new UsageError(`invalid --role "${role}": use one of ${ROLES.join(', ')}`, USER_USAGE)

  const password = await readPassword(`Password for ${name}: `, output)
  const database = await openDatabase(values.data ?? DEFAULT_DATA_DIR)
  const db = new Database(database.path)
  try {
    await new UserStore(db).create(name, role, password)
    output.out(`User ${name} (${role}) created`)
    return 0
  } catch (error) {
    if (error instanceof StoreError) {
      output.err(`blackhole user: ${error.message}`)
      return 1
    }
    throw error
  } finally {
    db.close()
    await database.close()
  }
}
