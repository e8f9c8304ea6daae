import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { userCommand } from '../../src/cli/user.js'
import { openDatabase } from '../../src/db/client.js'
import { UserStore } from '../../src/db/users.js'

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

const folders: string[] = []
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true })
})

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'blackhole-user-cli-'))
  folders.push(dir)
  return join(dir, 'data')
}

function capture() {
  const output = { stdout: [] as string[], stderr: [] as string[], out: (line: string) => output.stdout.push(line), err: (line: string) => output.stderr.push(line) }
  return output
}

async function authenticate(dir: string, name: string, password: string) {
  const database = await openDatabase(dir)
  const db = new Database(database.path)
  try {
    return await new UserStore(db).authenticate(name, password)
  } finally {
    db.close()
    await database.close()
  }
}

describe('blackhole user create', () => {
  it('creates a user whose password works', async () => {
    const dir = dataDir()
    const output = capture()
    const status = await userCommand(['create', '--name', 'ana', '--role', 'operator', '--data', dir], output, async () => 'ana-secret-1')
    expect(status).toBe(0)
    expect(output.stdout).toEqual(['User ana (operator) created'])
    const user = await authenticate(dir, 'ana', 'ana-secret-1')
    expect(user?.role).toBe('operator')
    expect(await authenticate(dir, 'ana', 'wrong-secret')).toBeNull()
  })

  it('reads the password from a pipe', () => {
    const dir = dataDir()
    const result = spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'user', 'create', '--name', 'bo', '--role', 'viewer', '--data', dir], {
      input: 'piped-password\nignored second line\n',
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(result.stderr).toBe('')
    expect(result.status).toBe(0)
    expect(result.stdout).toBe('User bo (viewer) created\n')
  }, 70_000)

  it('uses the first piped line as the password', async () => {
    const dir = dataDir()
    spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'user', 'create', '--name', 'cy', '--role', 'admin', '--data', dir], {
      input: 'first-line-pass\nsecond\n',
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect((await authenticate(dir, 'cy', 'first-line-pass'))?.role).toBe('admin')
  }, 70_000)

  it('rejects a short password with exit 1', async () => {
    const output = capture()
    const status = await userCommand(['create', '--name', 'dee', '--role', 'viewer', '--data', dataDir()], output, async () => 'short')
    expect(status).toBe(1)
    expect(output.stderr[0]).toBe('blackhole user: password: must be 8 to 1024 characters long, got 5')
  })

  it('rejects an existing name', async () => {
    const dir = dataDir()
    await userCommand(['create', '--name', 'eve', '--role', 'viewer', '--data', dir], capture(), async () => 'password-one')
    const output = capture()
    expect(await userCommand(['create', '--name', 'eve', '--role', 'viewer', '--data', dir], output, async () => 'password-two')).toBe(1)
    expect(output.stderr[0]).toMatch(/^blackhole user: user "eve" already exists/)
  })

  it('rejects an unknown role before asking', async () => {
    let prompted = false
    await expect(
      userCommand(['create', '--name', 'fay', '--role', 'root'], capture(), async () => {
        prompted = true
        return 'password'
      }),
    ).rejects.toThrow('invalid --role "root": use one of admin, operator, viewer')
    expect(prompted).toBe(false)
  })
})
