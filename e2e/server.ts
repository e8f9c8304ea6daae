import type { ChildProcess } from 'node:child_process'

/** A user with a password and a token of the same role, created by global setup. */
export interface E2eAccount {
  name: string
  password: string
  /** A token of the same role, owned by this user. */
  token: string
}

/** What global setup hands to the tests and to global teardown. */
export interface E2eServer {
  url: string
  /** The admin token, BLACKHOLE_ADMIN_TOKEN of the server. */
  token: string
  /** Null until global setup has created them. */
  accounts: { viewer: E2eAccount; operator: E2eAccount } | null
  pid: number
  dataDir: string
  logFile: string
}

const envKey = 'BLACKHOLE_E2E_SERVER'

/**
 * Publishes the server for the tests. Playwright starts its workers after
 * global setup with a copy of this process's environment, which makes the
 * environment the documented channel from setup to tests.
 */
export function publishServer(server: E2eServer): void {
  process.env[envKey] = JSON.stringify(server)
}

/** Returns the server that global setup started, or null before it started one. */
export function startedServer(): E2eServer | null {
  const raw = process.env[envKey]
  return raw === undefined ? null : (JSON.parse(raw) as E2eServer)
}

/** Returns the server that global setup started; throws outside a test run. */
export function e2eServer(): E2eServer {
  const raw = process.env[envKey]
  if (raw === undefined) {
    throw new Error(`${envKey} is not set: run the tests with pnpm test:e2e so global-setup.ts starts the server`)
  }
  return JSON.parse(raw) as E2eServer
}

/**
 * The server's child process, when teardown loads the same module instance
 * as setup. Teardown falls back to polling the pid when it is null.
 */
export const serverProcess: { child: ChildProcess | null } = { child: null }
