// Shared set-up for the server unit tests: a config in a temporary folder
// whose services never start on their own, so no test needs root.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const EXAMPLE_CONFIG = fileURLToPath(new URL('../../../../examples/blackhole.yaml', import.meta.url))
export const EXAMPLE_RULES = fileURLToPath(new URL('../../../../examples/rules.yaml', import.meta.url))

/** The example config with `autostart: false` added to each service. */
export function exampleConfigWithoutAutostart(): string {
  const text = readFileSync(EXAMPLE_CONFIG, 'utf8')
  return text.replace(/^( {4}profile: .*)$/gm, '$1\n    autostart: false')
}

export interface TempFolder {
  dir: string
  configPath: string
  dataDir: string
  remove(): void
}

export function tempFolder(configText = exampleConfigWithoutAutostart()): TempFolder {
  const dir = mkdtempSync(join(tmpdir(), 'blackhole-server-'))
  const configPath = join(dir, 'blackhole.yaml')
  writeFileSync(configPath, configText)
  return {
    dir,
    configPath,
    dataDir: join(dir, 'data'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
