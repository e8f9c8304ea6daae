// The second SIGINT or SIGTERM to `blackhole serve` exits at once, without
// waiting for the services to stop. The service here ignores SIGTERM, and
// its children inherit that, so the first signal's shutdown waits out the
// grace period and the second arrives during it. Needs `pnpm build`.

import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { PARENT_LOCK_DIR } from '../../src/sandbox/parent-lock.js'

const BIN = fileURLToPath(new URL('../../../../bin/blackhole', import.meta.url))
const TOKEN = 'bh_kernel-test-token-for-signals'
const SERVICE = 'bh-signal-test'
const CGROUP_PARENT = `blackhole-signal-test-${process.pid}`

const CONFIG = `security_profiles:
  sleeper:
    resource_limits:
      max_processes: 8
services:
  ${SERVICE}:
    profile: sleeper
    command: /bin/sh
    args: ["-c", "trap '' TERM; while :; do sleep 1; done"]
`

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

async function until(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

describe('blackhole serve signals', () => {
  const dir = mkdtempSync(join(tmpdir(), 'blackhole-signals-'))
  let servicePid: number | null = null

  afterAll(async () => {
    // The supervisor exited without stopping the service, so the test does.
    if (servicePid !== null) {
      try {
        process.kill(servicePid, 'SIGKILL')
      } catch {
        // Already gone.
      }
      await until('the service to exit', 5_000, async () => !existsSync(`/proc/${servicePid}`)).catch(() => {})
    }
    for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
      const parent = join('/sys/fs/cgroup', hierarchy, CGROUP_PARENT)
      for (const path of [join(parent, SERVICE), parent]) {
        if (existsSync(path)) rmdirSync(path)
      }
    }
    // The supervisor exited without releasing its cgroup parent lock.
    rmSync(join(PARENT_LOCK_DIR, `${CGROUP_PARENT}.lock`), { force: true })
    rmSync(dir, { recursive: true, force: true })
  })

  it('exits at once on a second signal', async () => {
    const configPath = join(dir, 'blackhole.yaml')
    writeFileSync(configPath, CONFIG)
    const port = await freePort()
    const child = spawn(process.execPath, [
        BIN, 'serve', '--config', configPath, '--data', join(dir, 'data'), '--port', String(port), '--cgroup-parent', CGROUP_PARENT,
      ], {
      env: { ...process.env, BLACKHOLE_ADMIN_TOKEN: TOKEN, BLACKHOLE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += String(chunk)))
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))

    await until('the service to run', 20_000, async () => {
      const response = await fetch(`http://127.0.0.1:${port}/api/v1/services/${SERVICE}`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      })
      const status = (await response.json()) as { state: string; pid: number | null }
      servicePid = status.pid
      return status.state === 'running'
    })

    child.kill('SIGTERM')
    // Long enough for the first signal's shutdown to begin, well inside the 5 s grace period.
    await new Promise((resolve) => setTimeout(resolve, 500))
    const secondAt = Date.now()
    child.kill('SIGTERM')
    const code = await exit
    expect(code).toBe(1)
    expect(Date.now() - secondAt).toBeLessThan(2_000)
    expect(stderr).toContain('blackhole: second SIGTERM, exiting without stopping the services')
  })
})
