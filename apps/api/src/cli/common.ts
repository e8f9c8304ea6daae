import { isIP } from 'node:net'
import { fileURLToPath } from 'node:url'
import { formatError, loadConfigFile, type Config } from '@blackhole/policy'

/** The repository root, found from this file (src/cli or dist/cli). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url))

export const DEFAULT_CONFIG = fileURLToPath(new URL('../../../../examples/blackhole.yaml', import.meta.url))
export const DEFAULT_DATA_DIR = './data'
export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_PORT = 7070

/** Exit status for a command-line usage mistake, as most Unix tools use. */
export const EXIT_USAGE = 2

/** A mistake in the command line; main prints the message and the command's usage. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message)
    this.name = 'UsageError'
  }
}

export interface Output {
  out: (line: string) => void
  err: (line: string) => void
}

export const consoleOutput: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
}

/** Loads and validates a config, printing every error as FILE:LINE:COL: path: message. */
export async function loadConfigOrReport(path: string, output: Output): Promise<Config | null> {
  const result = await loadConfigFile(path)
  if (result.ok) return result.config
  for (const error of result.errors) output.err(formatError(error))
  return null
}

/** Returns true for 127.0.0.0/8, ::1, ::ffff:127.x.y.z and `localhost`. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true
  const version = isIP(host)
  if (version === 4) return host.startsWith('127.')
  if (version === 6) {
    const lower = host.toLowerCase()
    return lower === '::1' || lower === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(lower)
  }
  return false
}

/** Parses a whole number option within [min, max] or throws a UsageError naming the option. */
export function parseInteger(option: string, value: string, min: number, max: number, usage: string): number {
  const number = /^\d+$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    throw new UsageError(`invalid ${option} "${value}": use a whole number from ${min} to ${max}`, usage)
  }
  return number
}
