// Shared set-up for the API benchmarks: a temporary folder with the example
// config (services without autostart) and percentile helpers.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const EXAMPLE_CONFIG = fileURLToPath(new URL('../../examples/blackhole.yaml', import.meta.url))

export interface BenchFolder {
  dir: string
  configPath: string
  dataDir: string
  remove(): void
}

/** Creates a temporary folder with `configText` as its config (the example config without autostart by default). */
export function benchFolder(prefix: string, configText?: string): BenchFolder {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const configPath = join(dir, 'blackhole.yaml')
  const text = configText ?? readFileSync(EXAMPLE_CONFIG, 'utf8').replace(/^( {4}profile: .*)$/gm, '$1\n    autostart: false')
  writeFileSync(configPath, text)
  return { dir, configPath, dataDir: join(dir, 'data'), remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Returns the p-th percentile (0-100) of the values by the nearest-rank method. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[rank - 1]!
}

export function formatMs(value: number): string {
  return `${value.toFixed(2)} ms`
}
