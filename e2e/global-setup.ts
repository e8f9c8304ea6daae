import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { accessSync, constants, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { publishServer, serverProcess, type E2eAccount } from './server.js'

const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const e2eDir = fileURLToPath(new URL('.', import.meta.url))
const configFile = join(repoRoot, 'examples', 'blackhole.yaml')
const rulesFile = join(repoRoot, 'examples', 'rules.yaml')
const serverBin = join(repoRoot, 'bin', 'blackhole')
const healthTimeoutMs = 60_000

/** Asks the kernel for a free loopback port by binding port 0. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port)
        else reject(new Error(`could not read the probe port from ${String(address)}`))
      })
    })
  })
}

function build(folder: string): void {
  const result = spawnSync('pnpm', ['-C', join(repoRoot, folder), 'build'], {
    encoding: 'utf8',
  })
  if (result.status !== 0) {
    throw new Error(`building ${folder} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`)
  }
}

/**
 * Builds the policy package and the API, which bin/blackhole runs from
 * dist/, and apps/web, which the server serves, so the tests cover the
 * checkout and not an earlier build. The native addon is built by
 * `pnpm install` and is not rebuilt here.
 */
function buildServerAndDashboard(): void {
  build('packages/policy')
  build('apps/api')
  build('apps/web')
}

function logTail(logFile: string): string {
  try {
    return readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n')
  } catch {
    return '(no server log)'
  }
}

/** Polls GET /api/v1/health until it returns ok, the server exits or time runs out. */
async function waitForHealth(url: string, exited: () => string | null, logFile: string): Promise<void> {
  const deadline = Date.now() + healthTimeoutMs
  let lastError = 'no response yet'
  while (Date.now() < deadline) {
    const exit = exited()
    if (exit !== null) throw new Error(`blackhole serve exited (${exit}) before it was healthy:\n${logTail(logFile)}`)
    try {
      const response = await fetch(`${url}/api/v1/health`)
      const body = (await response.json()) as { status?: string }
      if (response.ok && body.status === 'ok') return
      lastError = `HTTP ${response.status} ${JSON.stringify(body)}`
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error)
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`${url}/api/v1/health was not ok after ${healthTimeoutMs} ms (${lastError}):\n${logTail(logFile)}`)
}

/** Sends an admin request to the server and returns its JSON body; throws on any status but 201. */
async function adminCreate(url: string, token: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${url}/api/v1${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const text = await response.text()
  if (response.status !== 201) throw new Error(`POST ${path} returned ${response.status}: ${text}`)
  return JSON.parse(text) as Record<string, unknown>
}

/** Creates a user with `role`, a random password and a token of the same role. */
async function createAccount(url: string, adminToken: string, role: 'viewer' | 'operator'): Promise<E2eAccount> {
  const name = `e2e-${role}`
  const password = randomBytes(12).toString('hex')
  await adminCreate(url, adminToken, '/users', { name, role, password })
  const created = await adminCreate(url, adminToken, '/tokens', { name: `${name}-token`, role, user: name })
  if (typeof created.token !== 'string') throw new Error(`POST /tokens returned no token: ${JSON.stringify(created)}`)
  return { name, password, token: created.token }
}

/**
 * Builds the dashboard and starts `bin/blackhole serve` with the example
 * services, a fresh data directory, a free port and a random admin token,
 * then creates a viewer and an operator account through the API.
 */
export default async function globalSetup(): Promise<void> {
  try {
    accessSync(serverBin, constants.X_OK)
    accessSync(configFile, constants.R_OK)
  } catch (error) {
    throw new Error(`the e2e tests need an executable bin/blackhole and examples/blackhole.yaml: ${String(error)}`)
  }
  buildServerAndDashboard()

  const dataDir = mkdtempSync(join(tmpdir(), 'blackhole-e2e-'))
  // A copy, because tests add rules with PUT /api/v1/rules, which rewrites the file.
  const rulesCopy = join(dataDir, 'rules.yaml')
  copyFileSync(rulesFile, rulesCopy)
  const port = await freePort()
  const token = randomBytes(24).toString('hex')
  const url = `http://127.0.0.1:${port}`
  mkdirSync(join(e2eDir, 'test-results'), { recursive: true })
  // The log stays after teardown removes the data directory, for debugging.
  const logFile = join(e2eDir, 'test-results', 'server.log')
  const log = openSync(logFile, 'w')

  const args = ['serve', '--config', configFile, '--rules', rulesCopy, '--data', dataDir, '--host', '127.0.0.1', '--port', String(port),
    // A cgroup parent of its own, because a supervisor locks its parent and
    // another server may run on this machine.
    '--cgroup-parent', `blackhole-e2e-${process.pid}`]
  const child = spawn(serverBin, args, {
    cwd: repoRoot,
    env: { ...process.env, BLACKHOLE_ADMIN_TOKEN: token },
    stdio: ['ignore', log, log],
  })
  serverProcess.child = child
  let exit: string | null = null
  child.once('exit', (code, signal) => {
    exit = signal ?? `code ${code}`
  })
  child.once('error', (error) => {
    exit = error.message
  })
  if (child.pid === undefined) {
    rmSync(dataDir, { recursive: true, force: true })
    throw new Error(`could not start ${serverBin}; see ${logFile}`)
  }

  // Published before the wait, so teardown also stops a server that never
  // became healthy.
  const server = { url, token, pid: child.pid, dataDir, logFile, accounts: null }
  publishServer(server)
  await waitForHealth(url, () => exit, logFile)
  const viewer = await createAccount(url, token, 'viewer')
  const operator = await createAccount(url, token, 'operator')
  publishServer({ ...server, accounts: { viewer, operator } })
}
