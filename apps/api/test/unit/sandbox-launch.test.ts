import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { boundingCapabilities, describeLaunchFailure, resolveCommand, volumeDir } from '../../src/sandbox/launch.js'
import { exitStatus } from '../../src/sandbox/run.js'

let dir: string

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sandbox-launch-'))
  writeFileSync(join(dir, 'tool'), '#!/bin/sh\n')
  chmodSync(join(dir, 'tool'), 0o755)
  writeFileSync(join(dir, 'plain'), 'not executable\n')
  chmodSync(join(dir, 'plain'), 0o644)
})

afterEach(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('resolveCommand', () => {
  it('finds a bare name in PATH', () => {
    expect(resolveCommand('tool', `/nonexistent:${dir}`)).toBe(join(dir, 'tool'))
  })

  it('keeps an absolute executable', () => {
    expect(resolveCommand(join(dir, 'tool'), '')).toBe(join(dir, 'tool'))
  })

  it('skips relative PATH entries', () => {
    expect(() => resolveCommand('tool', '.')).toThrow(/not found in PATH \(\.\)/)
  })

  it('names a missing command', () => {
    let error: unknown
    try {
      resolveCommand('blackhole-missing', dir)
    } catch (caught) {
      error = caught
    }
    const failure = describeLaunchFailure(error, 'prepare')
    expect(failure.step).toBe('resolve command')
    expect(failure.code).toBe('ENOENT')
    expect(failure.errno).toBe(2)
    expect(failure.detail).toBe('blackhole-missing')
    expect(failure.message).toContain(`command "blackhole-missing" not found in PATH (${dir})`)
  })

  it('rejects a file without execute permission', () => {
    expect(() => resolveCommand(join(dir, 'plain'), '')).toThrow(/is not an executable file/)
  })

  it('rejects a relative path with a slash', () => {
    expect(() => resolveCommand('bin/tool', dir)).toThrow(/is a relative path/)
  })
})

describe('volumeDir', () => {
  it('flattens the path into one folder name', () => {
    expect(volumeDir('/data', 'storage', '/var/data/blackhole/storage')).toBe(
      '/data/volumes/storage/_var_data_blackhole_storage',
    )
  })
})

describe('boundingCapabilities', () => {
  it('reads names from a hex set', () => {
    // Bits 0 to 40 except 24 (CAP_SYS_RESOURCE).
    const names = boundingCapabilities('000001fffeffffff')
    expect(names).toHaveLength(40)
    expect(names).toContain('CAP_NET_BIND_SERVICE')
    expect(names).toContain('CAP_CHECKPOINT_RESTORE')
    expect(names).not.toContain('CAP_SYS_RESOURCE')
  })

  it('reads an empty set', () => {
    expect(boundingCapabilities('0')).toEqual([])
  })
})

describe('exitStatus', () => {
  it('returns the exit code', () => {
    expect(exitStatus({ code: 3, signal: null })).toBe(3)
  })

  it('adds 128 to a signal number', () => {
    expect(exitStatus({ code: null, signal: 'SIGKILL' })).toBe(137)
    expect(exitStatus({ code: null, signal: 'SIGTERM' })).toBe(143)
  })
})
