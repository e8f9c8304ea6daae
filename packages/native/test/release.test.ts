// When the child waits for the parent. With a beforeRelease hook the parent
// waits until the child joined its v1 cgroups, then runs the hook. Without
// one it releases the child at once, and a failed join still names its step.

import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { LaunchError } from '@blackhole/native'
import { baseSpec, runSandbox } from './helpers.js'

const created: string[] = []

function makeCgroup(root: string, name: string): string {
  const path = `${root}/blackhole-release-${name}-${process.pid}`
  mkdirSync(path)
  created.push(path)
  return path
}

afterEach(() => {
  for (const path of created.splice(0).reverse()) rmdirSync(path)
})

async function launchError(run: Promise<unknown>): Promise<LaunchError> {
  try {
    await run
  } catch (caught) {
    if (caught instanceof LaunchError) return caught
    throw caught
  }
  throw new Error('the launch succeeded, expected a LaunchError')
}

describe('release of the child', () => {
  it('joins v1 cgroups without a hook', async () => {
    const pids = makeCgroup('/sys/fs/cgroup/pids', 'plain')
    const run = await runSandbox(baseSpec({ argv: ['sh', '-c', 'cat /proc/self/cgroup'], cgroupProcs: [`${pids}/cgroup.procs`] }))
    expect(run.exit.code).toBe(0)
    expect(run.stdout).toMatch(new RegExp(`^\\d+:pids:/blackhole-release-plain-${process.pid}$`, 'm'))
  })

  // A new v1 cpuset has no CPUs until cpuset.cpus is set, so the kernel
  // rejects tasks there with ENOSPC.
  it.skipIf(!existsSync('/sys/fs/cgroup/cpuset/tasks'))('skips the hook after a failed join', async () => {
    const cpuset = makeCgroup('/sys/fs/cgroup/cpuset', 'hook')
    let hookCalls = 0
    const error = await launchError(runSandbox(baseSpec({ cgroupProcs: [`${cpuset}/cgroup.procs`] }), {
      hooks: { beforeRelease: () => { hookCalls++ } },
    }))
    expect(error.step).toBe('cgroup')
    expect(error.code).toBe('ENOSPC')
    expect(error.detail).toBe(`${cpuset}/tasks`)
    expect(hookCalls).toBe(0)
    expect(readFileSync(`${cpuset}/cgroup.procs`, 'utf8').trim()).toBe('')
  })

  it.skipIf(!existsSync('/sys/fs/cgroup/cpuset/tasks'))('names a failed join without a hook', async () => {
    const cpuset = makeCgroup('/sys/fs/cgroup/cpuset', 'nohook')
    // Repeated, because the release byte may reach the child before or
    // after it failed, and both orders must name the step.
    for (let i = 0; i < 10; i++) {
      const error = await launchError(runSandbox(baseSpec({ cgroupProcs: [`${cpuset}/cgroup.procs`] })))
      expect(error.step).toBe('cgroup')
      expect(error.code).toBe('ENOSPC')
    }
  })
})
