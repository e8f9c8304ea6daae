// Helpers shared by the example services: a log file, a pid file and a
// clean exit on SIGTERM. Only Node built-ins are used.

import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** Opens the service's log and pid files and returns a function that writes one log line. */
export function startService({ name, logDir, runDir }) {
  mkdirSync(logDir, { recursive: true })
  mkdirSync(runDir, { recursive: true })
  const logFile = join(logDir, `${name}.log`)
  const pidFile = join(runDir, `${name}.pid`)
  writeFileSync(pidFile, `${process.pid}\n`)
  const log = (message) => {
    const line = `${new Date().toISOString()} ${message}\n`
    appendFileSync(logFile, line)
    // The supervisor keeps stdout in <data>/logs/<service>.log, which the dashboard tails.
    process.stdout.write(line)
  }
  const removePidFile = () => rmSync(pidFile, { force: true })
  return { log, removePidFile }
}

/**
 * Closes the server and exits 0 on SIGTERM or SIGINT. The service runs as
 * PID 1 of its PID namespace, where the kernel delivers no signal that has
 * no handler, so without this SIGTERM would be ignored.
 */
export function exitOnSignals(server, { log, removePidFile }) {
  const stop = (signal) => {
    log(`received ${signal}, exiting`)
    removePidFile()
    server.close(() => process.exit(0))
    server.closeAllConnections()
    // Exit even if a client keeps a connection open.
    setTimeout(() => process.exit(0), 2000).unref()
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

/** Sends a JSON response. */
export function sendJson(response, status, body) {
  const text = JSON.stringify(body)
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  response.end(text)
}
