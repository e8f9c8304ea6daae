import { rmSync } from 'node:fs'
import { serverProcess, startedServer } from './server.js'

const exitTimeoutMs = 20_000

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Waits for the server to exit; true when it did within the timeout. */
async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const child = serverProcess.child
  if (child !== null && child.pid === pid) {
    if (child.exitCode !== null || child.signalCode !== null) return true
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs)
      child.once('exit', () => {
        clearTimeout(timer)
        resolve(true)
      })
    })
  }
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return false
}

/**
 * Stops the server that global setup started (SIGTERM to its pid only, so
 * it can stop its sandboxes and remove their cgroups) and removes the
 * data directory.
 */
export default async function globalTeardown(): Promise<void> {
  const server = startedServer()
  // Playwright runs teardown even when setup failed before starting a server.
  if (server === null) return
  if (isAlive(server.pid)) {
    process.kill(server.pid, 'SIGTERM')
    if (!(await waitForExit(server.pid, exitTimeoutMs))) {
      // NOTE: SIGKILL skips the server's own cleanup, so its sandboxes'
      // cgroups may stay behind, and the error output reports it.
      process.kill(server.pid, 'SIGKILL')
      await waitForExit(server.pid, 5_000)
      console.error(`blackhole serve (pid ${server.pid}) ignored SIGTERM for ${exitTimeoutMs} ms and was killed; see ${server.logFile}`)
    }
  }
  rmSync(server.dataDir, { recursive: true, force: true })
}
