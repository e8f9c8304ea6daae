import { mkdirSync, readFileSync, rmdirSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { baseSpec, runSandbox } from './helpers.js'

const created: string[] = []

function makeCgroup(controller: string): string {
  const path = `/sys/fs/cgroup/${controller}/blackhole-native-test-${process.pid}`
  mkdirSync(path)
  created.push(path)
  return path
}

afterEach(() => {
  // The sandbox has exited and been reaped by now, so the groups are empty.
  for (const path of created.splice(0)) rmdirSync(path)
})

describe('spawnSandbox cgroups and hooks', () => {
  it('places the child in its cgroups before releasing it', async () => {
    const pids = makeCgroup('pids')
    const memory = makeCgroup('memory')
    let hookPid = 0
    let membersAtHook = ''
    const run = await runSandbox(baseSpec({ argv: ['sh', '-c', 'cat /proc/self/cgroup'], cgroupProcs: [`${pids}/cgroup.procs`, `${memory}/cgroup.procs`] }), {
      hooks: {
        beforeRelease: (pid) => {
          hookPid = pid
          membersAtHook = readFileSync(`${pids}/cgroup.procs`, 'utf8').trim()
        },
      },
    })
    expect(run.exit.code).toBe(0)
    expect(hookPid).toBe(run.child.pid)
    expect(membersAtHook).toBe(String(run.child.pid))
    const name = `/blackhole-native-test-${process.pid}`
    expect(run.stdout).toMatch(new RegExp(`^\\d+:pids:${name}$`, 'm'))
    expect(run.stdout).toMatch(new RegExp(`^\\d+:memory:${name}$`, 'm'))
  })

  it('roots the cgroup namespace at the service cgroup', async () => {
    const pids = makeCgroup('pids')
    const spec = baseSpec({
      argv: ['sh', '-c', 'cat /proc/self/cgroup'],
      cgroupProcs: [`${pids}/cgroup.procs`],
      namespaces: { ...baseSpec().namespaces, cgroup: true },
    })
    const run = await runSandbox(spec)
    expect(run.exit.code).toBe(0)
    expect(run.stdout).toMatch(/^\d+:pids:\/$/m)
    expect(run.stdout).not.toContain('blackhole-native-test')
  })
})
