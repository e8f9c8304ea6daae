// The launcher clones with CLONE_VM: until execve the child runs in the
// supervisor's address space. These tests check that it does, and that the
// shared memory does not leak Node's signal handling into the service.

import { readFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { baseSpec, runSandbox, statusField } from './helpers.js'

// Reads both maps until two reads in a row agree, because Node's own
// threads may map memory between the two reads.
function readMapsPair(pid: number): [string, string] {
  let pair: [string, string] = ['', '']
  for (let attempt = 0; attempt < 5; attempt++) {
    pair = [readFileSync('/proc/self/maps', 'utf8'), readFileSync(`/proc/${pid}/maps`, 'utf8')]
    if (pair[0] === pair[1]) break
  }
  return pair
}

describe('spawnSandbox with CLONE_VM', () => {
  const handler = (): void => undefined
  afterEach(() => {
    process.removeListener('SIGUSR2', handler)
  })

  it('shares the address space before execve', async () => {
    let parentMaps = ''
    let childMaps = ''
    let allocated = 0
    const run = await runSandbox(baseSpec(), {
      hooks: {
        beforeRelease: (pid) => {
          // 64 MiB is above glibc's largest mmap threshold, so this maps a
          // new region after the clone; a forked child would not have it.
          const block = Buffer.alloc(64 * 1024 * 1024, 1)
          allocated = block.length
          ;[parentMaps, childMaps] = readMapsPair(pid)
        },
      },
    })
    expect(allocated).toBe(64 * 1024 * 1024)
    expect(parentMaps.length).toBeGreaterThan(0)
    expect(childMaps).toBe(parentMaps)
    expect(run.exit.code).toBe(0)
  })

  it('starts the service with default signal handling', async () => {
    // Node ignores SIGPIPE; this adds a handler for SIGUSR2 as well.
    process.on('SIGUSR2', handler)
    const run = await runSandbox(baseSpec({ argv: ['sh', '-c', 'exec cat /proc/self/status'] }))
    expect(run.exit.code).toBe(0)
    expect(statusField(run.stdout, 'SigBlk')).toBe('0000000000000000')
    expect(statusField(run.stdout, 'SigIgn')).toBe('0000000000000000')
    expect(statusField(run.stdout, 'SigCgt')).toBe('0000000000000000')
  })

  it('launches many times in a row', async () => {
    const codes: Array<number | null> = []
    for (let i = 0; i < 20; i++) {
      const run = await runSandbox(baseSpec({ argv: ['sh', '-c', `exit ${i}`] }))
      codes.push(run.exit.code)
    }
    expect(codes).toEqual(Array.from({ length: 20 }, (_, i) => i))
  })
})
