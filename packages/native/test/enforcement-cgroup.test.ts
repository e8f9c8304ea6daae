// Cgroup placement by the launcher: the child moves itself into v1
// hierarchies through their `tasks` files, the parent writes cgroup2
// cgroup.procs files, and a refused move fails the launch at step `cgroup`.

import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { LaunchError } from '@blackhole/native'
import { baseSpec, runSandbox } from './helpers.js'

const UNIFIED = '/sys/fs/cgroup/unified'
const created: string[] = []

function makeCgroup(root: string): string {
  const path = `${root}/blackhole-enforce-cgroup-${process.pid}`
  mkdirSync(path)
  created.push(path)
  return path
}

afterEach(() => {
  for (const path of created.splice(0).reverse()) rmdirSync(path)
})

describe('cgroup placement', () => {
  it.skipIf(!existsSync(`${UNIFIED}/cgroup.procs`))('joins v1 and cgroup2 leaves together', async () => {
    const pids = makeCgroup('/sys/fs/cgroup/pids')
    const unified = makeCgroup(UNIFIED)
    let membersAtHook = ''
    const spec = baseSpec({ argv: ['sh', '-c', 'cat /proc/self/cgroup'], cgroupProcs: [`${pids}/cgroup.procs`, `${unified}/cgroup.procs`] })
    const run = await runSandbox(spec, {
      hooks: { beforeRelease: () => { membersAtHook = `${readMembers(pids)} ${readMembers(unified)}` } },
    })
    expect(run.exit.code).toBe(0)
    expect(membersAtHook).toBe(`${run.child.pid} ${run.child.pid}`)
    const name = `/blackhole-enforce-cgroup-${process.pid}`
    expect(run.stdout).toMatch(new RegExp(`^\\d+:pids:${name}$`, 'm'))
    expect(run.stdout).toMatch(new RegExp(`^0::${name}$`, 'm'))
  })

  // A new v1 cpuset has no CPUs until someone sets cpuset.cpus, and the kernel refuses tasks there.
  it.skipIf(!existsSync('/sys/fs/cgroup/cpuset/tasks'))('fails at step cgroup when the move is refused', async () => {
    const cpuset = makeCgroup('/sys/fs/cgroup/cpuset')
    expect(readFileSync(`${cpuset}/cpuset.cpus`, 'utf8').trim()).toBe('')
    let error: unknown = null
    try {
      await runSandbox(baseSpec({ cgroupProcs: [`${cpuset}/cgroup.procs`] }))
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(LaunchError)
    const launchError = error as LaunchError
    expect(launchError.step).toBe('cgroup')
    expect(launchError.code).toBe('ENOSPC')
    expect(launchError.detail).toBe(`${cpuset}/tasks`)
    expect(readMembers(cpuset)).toBe('')
  })
})

function readMembers(dir: string): string {
  return readFileSync(`${dir}/cgroup.procs`, 'utf8').trim()
}
