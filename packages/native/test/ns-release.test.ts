// The launcher holds a reference to each sandbox's mount namespace, so its
// teardown runs on a background thread after the exit instead of in the
// service's exit path. These tests check that the reference exists while the
// service runs and is dropped after it exits.

import { readdirSync, readlinkSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { baseSpec, runSandbox } from './helpers.js'

// Counts this process's descriptors that refer to the namespace `link`
// (the text of a /proc/PID/ns/mnt link, such as `mnt:[4026532001]`).
function countReferences(link: string): number {
  let count = 0
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === link) count++
    } catch {
      // The descriptor was closed between readdir and readlink.
    }
  }
  return count
}

async function waitForNoReferences(link: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let count = countReferences(link)
  while (count > 0 && Date.now() < deadline) {
    await sleep(10)
    count = countReferences(link)
  }
  return count
}

describe('mount namespace release', () => {
  it('holds the namespace while running', async () => {
    let link = ''
    let duringRun = 0
    const run = await runSandbox(baseSpec(), {
      hooks: {
        beforeRelease: (pid) => {
          link = readlinkSync(`/proc/${pid}/ns/mnt`)
          duringRun = countReferences(link)
        },
      },
    })
    expect(run.exit.code).toBe(0)
    expect(link).toMatch(/^mnt:\[\d+\]$/)
    expect(link).not.toBe(readlinkSync('/proc/self/ns/mnt'))
    expect(duringRun).toBe(1)
    expect(await waitForNoReferences(link, 2000)).toBe(0)
  })

  it('holds nothing without a mount namespace', async () => {
    let link = ''
    let duringRun = -1
    const spec = baseSpec({ namespaces: { ...baseSpec().namespaces, mount: false }, mounts: [] })
    const run = await runSandbox(spec, {
      hooks: {
        beforeRelease: (pid) => {
          link = readlinkSync(`/proc/${pid}/ns/mnt`)
          duringRun = countReferences(link)
        },
      },
    })
    expect(run.exit.code).toBe(0)
    expect(link).toBe(readlinkSync('/proc/self/ns/mnt'))
    expect(duringRun).toBe(0)
  })

  it('releases the namespace after a failed launch', async () => {
    let link = ''
    await expect(runSandbox(baseSpec({ cwd: '/no-such-directory' }), {
      hooks: { beforeRelease: (pid) => { link = readlinkSync(`/proc/${pid}/ns/mnt`) } },
    })).rejects.toThrow(/chdir/)
    expect(link).toMatch(/^mnt:\[\d+\]$/)
    expect(await waitForNoReferences(link, 2000)).toBe(0)
  })
})
