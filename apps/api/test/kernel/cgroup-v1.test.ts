// ServiceCgroup on the real kernel with a real process in it. The tests run
// on hosts whose memory, pids, cpu, cpuacct and freezer controllers are v1
// hierarchies, as on the hybrid development machines. The v2 code is
// covered on a fake tree in test/unit/cgroup-v2.test.ts.

import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { detectLayout, placeControllers, ServiceCgroup } from '../../src/sandbox/cgroups.js'

const layout = detectLayout()
const parent = `blackhole-test-${process.pid}`
const v1Host = ['memory', 'pids', 'cpu', 'cpuacct', 'freezer'].every(
  (controller) => placeControllers(layout)[controller as 'memory']?.version === 1,
)

let cgroup: ServiceCgroup | null = null
let child: ChildProcess | null = null

function childExit(proc: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (proc.exitCode !== null || proc.signalCode !== null) {
    return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode })
  }
  return new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })))
}

/**
 * Starts a shell and moves it into every leaf of the cgroup, as the launcher
 * does. Scripts start with a short sleep so the move happens before they
 * fork or allocate: v1 does not move existing memory charges or children.
 */
function startIn(target: ServiceCgroup, script: string): ChildProcess {
  const proc = spawn('/bin/sh', ['-c', script], { stdio: 'ignore' })
  for (const file of target.procsFiles()) writeFileSync(file, String(proc.pid))
  return proc
}

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('the kernel tests need root')
})

afterEach(async () => {
  if (child !== null && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  child = null
  if (cgroup !== null) await cgroup.remove()
  cgroup = null
  for (const mount of new Set(Object.values(layout.v1))) {
    const dir = join(mount, parent)
    if (existsSync(dir)) rmdirSync(dir)
  }
})

describe.runIf(v1Host)('ServiceCgroup on cgroup v1', () => {
  it('creates a leaf per hierarchy', () => {
    cgroup = new ServiceCgroup('lifecycle', { layout, parent })
    cgroup.create()
    expect(cgroup.dirOf('memory')).toBe(join(layout.v1.memory!, parent, 'lifecycle'))
    expect(existsSync(join(layout.v1.memory!, parent, 'lifecycle', 'memory.limit_in_bytes'))).toBe(true)
    expect(existsSync(join(layout.v1.pids!, parent, 'lifecycle', 'pids.max'))).toBe(true)
    expect(existsSync(join(layout.v1.freezer!, parent, 'lifecycle', 'freezer.state'))).toBe(true)
    expect(cgroup.procsFiles()).toHaveLength(5)
  })

  it('writes limits to the v1 files', () => {
    cgroup = new ServiceCgroup('limits', { layout, parent })
    cgroup.create()
    cgroup.setLimits({ memoryBytes: 64 * 1024 * 1024, pids: 32, cpus: 0.25 })
    const memoryDir = cgroup.dirOf('memory')!
    const cpuDir = cgroup.dirOf('cpu')!
    expect(readFileSync(join(memoryDir, 'memory.limit_in_bytes'), 'utf8').trim()).toBe('67108864')
    if (existsSync(join(memoryDir, 'memory.memsw.limit_in_bytes'))) {
      expect(readFileSync(join(memoryDir, 'memory.memsw.limit_in_bytes'), 'utf8').trim()).toBe('67108864')
    }
    expect(readFileSync(join(cgroup.dirOf('pids')!, 'pids.max'), 'utf8').trim()).toBe('32')
    expect(readFileSync(join(cpuDir, 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('25000')
    expect(readFileSync(join(cpuDir, 'cpu.cfs_period_us'), 'utf8').trim()).toBe('100000')
  })

  it('samples a process using memory and CPU', async () => {
    cgroup = new ServiceCgroup('sample', { layout, parent })
    cgroup.create()
    cgroup.setLimits({ memoryBytes: 128 * 1024 * 1024, pids: 16, cpus: null })
    // The shell builds a 64 KiB string, then burns CPU in a busy loop.
    child = startIn(cgroup, 'sleep 0.1; s=x; i=0; while [ $i -lt 16 ]; do s="$s$s"; i=$((i+1)); done; while :; do :; done')
    await new Promise((resolve) => setTimeout(resolve, 200))
    const first = cgroup.sample()
    await new Promise((resolve) => setTimeout(resolve, 500))
    const second = cgroup.sample()
    expect(first.pids).toBe(1)
    expect(second.pids).toBe(1)
    expect(second.pidsLimit).toBe(16)
    expect(second.memoryLimitBytes).toBe(128 * 1024 * 1024)
    expect(second.memoryBytes).toBeGreaterThan(0)
    expect(second.cpuPercent).toBeGreaterThan(20)
    expect(second.oomKills).toBe(0)
    expect(cgroup.pids()).toEqual([child.pid])
  })

  it('freezes and thaws a real process', async () => {
    cgroup = new ServiceCgroup('freeze', { layout, parent })
    cgroup.create()
    child = startIn(cgroup, 'sleep 0.1; exec sleep 30')
    await cgroup.freeze()
    expect(readFileSync(join(cgroup.dirOf('freezer')!, 'freezer.state'), 'utf8').trim()).toBe('FROZEN')
    expect(cgroup.isFrozen()).toBe(true)
    await cgroup.thaw()
    expect(readFileSync(join(cgroup.dirOf('freezer')!, 'freezer.state'), 'utf8').trim()).toBe('THAWED')
    expect(cgroup.isFrozen()).toBe(false)
  })

  it('kills every process, also forked ones', async () => {
    cgroup = new ServiceCgroup('kill', { layout, parent })
    cgroup.create()
    child = startIn(cgroup, 'sleep 0.1; sleep 30 & sleep 30 & sleep 30 & wait')
    const exited = childExit(child)
    // The shell forks three sleeps; wait until all four are in the cgroup.
    for (let i = 0; i < 100 && cgroup.pids().length < 4; i++) await new Promise((r) => setTimeout(r, 10))
    expect(cgroup.pids()).toHaveLength(4)
    await cgroup.killAll()
    expect(cgroup.pids()).toEqual([])
    expect((await exited).signal).toBe('SIGKILL')
  })

  it('kills a frozen cgroup', async () => {
    cgroup = new ServiceCgroup('killfrozen', { layout, parent })
    cgroup.create()
    child = startIn(cgroup, 'sleep 0.1; exec sleep 30')
    const exited = childExit(child)
    await cgroup.freeze()
    await cgroup.killAll()
    expect(cgroup.pids()).toEqual([])
    expect((await exited).signal).toBe('SIGKILL')
  })

  it('removes every leaf', async () => {
    cgroup = new ServiceCgroup('remove', { layout, parent })
    cgroup.create()
    child = startIn(cgroup, 'sleep 0.1; exec sleep 30')
    const dirs = cgroup.dirs()
    await cgroup.remove()
    for (const dir of dirs) expect(existsSync(dir)).toBe(false)
    expect(cgroup.exists()).toBe(false)
    cgroup = null
  })

  it('counts an OOM kill', async () => {
    cgroup = new ServiceCgroup('oom', { layout, parent })
    cgroup.create()
    cgroup.setLimits({ memoryBytes: 16 * 1024 * 1024, pids: 16, cpus: null })
    // The shell doubles a string until it passes the 16 MiB limit.
    child = startIn(cgroup, 'sleep 0.1; s=x; while :; do s="$s$s"; done')
    const exit = await childExit(child)
    expect(exit.signal).toBe('SIGKILL')
    expect(cgroup.oomKills()).toBe(1)
    expect(cgroup.sample().oomKills).toBe(1)
  })
})
