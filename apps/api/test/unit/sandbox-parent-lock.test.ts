import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CgroupParentInUseError, lockCgroupParent } from '../../src/sandbox/parent-lock.js'

let dir = ''

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'blackhole-lock-'))
})

afterEach(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('cgroup parent lock', () => {
  it('creates and releases the lock file', () => {
    const lock = lockCgroupParent('blackhole', '/data/a', dir)
    expect(existsSync(lock.path)).toBe(true)
    lock.release()
    expect(existsSync(lock.path)).toBe(false)
  })

  it('lets the same process take it again', () => {
    const first = lockCgroupParent('blackhole', '/data/a', dir)
    const second = lockCgroupParent('blackhole', '/data/a', dir)
    expect(second.path).toBe(first.path)
    second.release()
  })

  it('rejects a parent held by a live process', async () => {
    const child = spawn('sleep', ['30'])
    try {
      const start = (await import('../../src/sandbox/launch.js')).processStartTime(child.pid!)
      writeFileSync(join(dir, 'blackhole.lock'), JSON.stringify({ pid: child.pid, startTime: start, dataDir: '/data/b' }))
      expect(() => lockCgroupParent('blackhole', '/data/a', dir)).toThrow(CgroupParentInUseError)
      expect(() => lockCgroupParent('blackhole', '/data/a', dir)).toThrow(/pid \d+, data \/data\/b.*--cgroup-parent/)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('replaces a lock left by a dead process', () => {
    writeFileSync(join(dir, 'blackhole.lock'), JSON.stringify({ pid: 2 ** 22 + 1, startTime: 1, dataDir: '/data/old' }))
    const lock = lockCgroupParent('blackhole', '/data/a', dir)
    expect(existsSync(lock.path)).toBe(true)
    lock.release()
  })

  it('keeps other parents apart', () => {
    const a = lockCgroupParent('blackhole', '/data/a', dir)
    const b = lockCgroupParent('bh-test', '/data/b', dir)
    expect(a.path).not.toBe(b.path)
    a.release()
    b.release()
  })
})
