import Database from 'better-sqlite3'
import { openDatabase } from '../db/client.js'
import { StoreError, USER_NAME, UserStore } from '../db/users.js'
import { DEFAULT_DATA_DIR, type Output } from './common.js'
import { parseCreateArgs } from './create-args.js'

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
  const parsed = parseCreateArgs('user', args, USER_USAGE, USER_NAME, output)
  if (typeof parsed === 'number') return parsed
  const { name, role } = parsed

  const password = await readPassword(`Password for ${name}: `, output)
  const database = await openDatabase(parsed.data ?? DEFAULT_DATA_DIR)
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
