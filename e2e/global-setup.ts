import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { accessSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { publishServer, serverProcess } from './server.js'

const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const e2eDir = fileURLToPath(new URL('.', import.meta.url))
const configFile = join(repoRoot, 'examples', 'blackhole.yaml')
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

/** Builds apps/web so the server serves the dashboard under test. */
function buildDashboard(): void {
  const result = spawnSync('pnpm', ['-C', join(repoRoot, 'apps', 'web'), 'build'], {
    encoding: 'utf8',
  })
  if (result.status !== 0) {
    throw new Error(`building apps/web failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`)
  }
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

/**
 * Builds the dashboard and starts `bin/blackhole serve` with the example
 * services, a fresh data directory, a free port and a random admin token.
 */
export default async function globalSetup(): Promise<void> {
  try {
    accessSync(serverBin, constants.X_OK)
    accessSync(configFile, constants.R_OK)
  } catch (error) {
    throw new Error(`the e2e tests need an executable bin/blackhole and examples/blackhole.yaml: ${String(error)}`)
  }
  buildDashboard()

  const dataDir = mkdtempSync(join(tmpdir(), 'blackhole-e2e-'))
  const port = await freePort()
  const token = randomBytes(24).toString('hex')
  const url = `http://127.0.0.1:${port}`
  mkdirSync(join(e2eDir, 'test-results'), { recursive: true })
  // The log stays after teardown removes the data directory, for debugging.
  const logFile = join(e2eDir, 'test-results', 'server.log')
  const log = openSync(logFile, 'w')

  const args = ['serve', '--config', configFile, '--data', dataDir, '--host', '127.0.0.1', '--port', String(port)]
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
  publishServer({ url, token, pid: child.pid, dataDir, logFile })
  await waitForHealth(url, () => exit, logFile)
}
