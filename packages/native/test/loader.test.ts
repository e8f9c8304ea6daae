import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

describe('native loader', () => {
  it('lists every path it tried', async () => {
    // A copy of the loader in a package folder without build/.
    const root = mkdtempSync(join(tmpdir(), 'blackhole-loader-'))
    try {
      mkdirSync(join(root, 'lib'))
      const copy = join(root, 'lib', 'native.ts')
      copyFileSync(fileURLToPath(new URL('../lib/native.ts', import.meta.url)), copy)
      const load = import(copy)
      await expect(load).rejects.toThrow('Cannot load the blackhole_native addon. Tried:')
      await expect(load).rejects.toThrow(`${join(root, 'build/Release/blackhole_native.node')}: not found`)
      await expect(load).rejects.toThrow(`${join(root, 'build/Debug/blackhole_native.node')}: not found`)
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})
