// The cgroup v2 code of ServiceCgroup, run against a fake cgroup tree in a
// temporary folder. The machines this project is developed on bind every
// controller to v1, and their cgroup2 mount has no controllers. So the v2
// code is exercised here on files the test writes, and the test plays the
// kernel's part. The v1 code runs on the real kernel in
// test/kernel/cgroup-v1.test.ts.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { detectLayout, ServiceCgroup } from '../../src/sandbox/cgroups.js'
import { CgroupError } from '../../src/sandbox/errors.js'

const LEAF_FILES: Record<string, string> = {
  'cgroup.procs': '',
  'cgroup.subtree_control': '',
  'cgroup.freeze': '0',
  'cgroup.events': 'populated 1\nfrozen 0\n',
  'cgroup.kill': '',
  'memory.max': 'max',
  'memory.swap.max': 'max',
  'memory.current': '0',
  'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n',
  'pids.max': 'max',
  'pids.current': '0',
  'cpu.max': 'max 100000',
  'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\n',
}

let root: string
let leaf: string

function read(path: string): string {
  return readFileSync(join(root, path), 'utf8')
}

function makeCgroup(name = 'web'): ServiceCgroup {
  const mountinfo = `26 22 0:24 / ${root} rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate`
  return new ServiceCgroup(name, { layout: detectLayout(mountinfo), parent: 'blackhole', freezeTimeoutMs: 300 })
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'cgroup-v2-'))
  writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory pids\n')
  writeFileSync(join(root, 'cgroup.subtree_control'), '')
  mkdirSync(join(root, 'blackhole'))
  writeFileSync(join(root, 'blackhole', 'cgroup.subtree_control'), '')
  // The kernel creates a leaf's files on mkdir; here the test lays them out first.
  leaf = join(root, 'blackhole', 'web')
  mkdirSync(leaf)
  for (const [file, content] of Object.entries(LEAF_FILES)) writeFileSync(join(leaf, file), content)
})

afterEach(() => {
  rmSync(root, { recursive: true, force: true })
})

describe('ServiceCgroup on cgroup v2', () => {
  it('uses one leaf in the unified tree', () => {
    const cgroup = makeCgroup()
    expect(cgroup.dirs()).toEqual([leaf])
    expect(cgroup.procsFiles()).toEqual([join(leaf, 'cgroup.procs')])
  })

  it('enables controllers in each ancestor', () => {
    makeCgroup().create()
    expect(read('cgroup.subtree_control')).toBe('+memory +pids +cpu')
    expect(read('blackhole/cgroup.subtree_control')).toBe('+memory +pids +cpu')
  })

  it('skips controllers already enabled', () => {
    writeFileSync(join(root, 'cgroup.subtree_control'), 'cpu memory pids\n')
    makeCgroup().create()
    expect(read('cgroup.subtree_control')).toBe('cpu memory pids\n')
  })

  it('rejects a leaf with processes', () => {
    writeFileSync(join(leaf, 'cgroup.procs'), '4242\n')
    expect(() => makeCgroup().create()).toThrow(/already contains processes 4242/)
  })

  it('writes memory, swap, pids and cpu limits', () => {
    const cgroup = makeCgroup()
    cgroup.create()
    cgroup.setLimits({ memoryBytes: 268435456, pids: 64, cpus: 0.5 })
    expect(read('blackhole/web/memory.max')).toBe('268435456')
    expect(read('blackhole/web/memory.swap.max')).toBe('0')
    expect(read('blackhole/web/pids.max')).toBe('64')
    expect(read('blackhole/web/cpu.max')).toBe('50000 100000')
  })

  it('writes max for absent limits', () => {
    const cgroup = makeCgroup()
    cgroup.create()
    cgroup.setLimits({ memoryBytes: null, pids: null, cpus: null })
    expect(read('blackhole/web/memory.max')).toBe('max')
    expect(read('blackhole/web/pids.max')).toBe('max')
    expect(read('blackhole/web/cpu.max')).toBe('max 100000')
  })

  it('reports a missing control file', () => {
    unlinkSync(join(leaf, 'pids.max'))
    const cgroup = makeCgroup()
    expect(() => cgroup.setLimits({ memoryBytes: null, pids: 10, cpus: null })).toThrow(CgroupError)
    expect(() => cgroup.setLimits({ memoryBytes: null, pids: 10, cpus: null })).toThrow(/pids\.max: the file is missing/)
  })

  it('waits for frozen 1 in cgroup.events', async () => {
    const cgroup = makeCgroup()
    let eventsWrittenAt = 0
    setTimeout(() => {
      eventsWrittenAt = Date.now()
      writeFileSync(join(leaf, 'cgroup.events'), 'populated 1\nfrozen 1\n')
    }, 60)
    await cgroup.freeze()
    expect(read('blackhole/web/cgroup.freeze')).toBe('1')
    expect(eventsWrittenAt).toBeGreaterThan(0)
    expect(cgroup.isFrozen()).toBe(true)
  })

  it('times out when the cgroup never freezes', async () => {
    const cgroup = makeCgroup()
    await expect(cgroup.freeze()).rejects.toThrow(/timed out after 300 ms waiting for frozen 1/)
  })

  it('thaws through cgroup.freeze', async () => {
    writeFileSync(join(leaf, 'cgroup.events'), 'populated 1\nfrozen 1\n')
    const cgroup = makeCgroup()
    setTimeout(() => writeFileSync(join(leaf, 'cgroup.events'), 'populated 1\nfrozen 0\n'), 30)
    await cgroup.thaw()
    expect(read('blackhole/web/cgroup.freeze')).toBe('0')
    expect(cgroup.isFrozen()).toBe(false)
  })

  it('kills through cgroup.kill and waits for empty', async () => {
    writeFileSync(join(leaf, 'cgroup.procs'), '100\n101\n')
    const cgroup = makeCgroup()
    setTimeout(() => writeFileSync(join(leaf, 'cgroup.procs'), ''), 40)
    await cgroup.killAll()
    expect(read('blackhole/web/cgroup.kill')).toBe('1')
    expect(cgroup.pids()).toEqual([])
  })

  it('samples memory, pids, OOM kills and limits', () => {
    writeFileSync(join(leaf, 'memory.current'), '1048576\n')
    writeFileSync(join(leaf, 'memory.max'), '268435456\n')
    writeFileSync(join(leaf, 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\n')
    writeFileSync(join(leaf, 'pids.current'), '7\n')
    writeFileSync(join(leaf, 'pids.max'), '64\n')
    const sample = makeCgroup().sample(1000)
    expect(sample.service).toBe('web')
    expect(sample.time).toBe(1000)
    expect(sample.memoryBytes).toBe(1048576)
    expect(sample.memoryLimitBytes).toBe(268435456)
    expect(sample.oomKills).toBe(2)
    expect(sample.pids).toBe(7)
    expect(sample.pidsLimit).toBe(64)
    expect(sample.cpuPercent).toBe(0)
  })

  it('reads max as no limit', () => {
    const sample = makeCgroup().sample(1000)
    expect(sample.memoryLimitBytes).toBeNull()
    expect(sample.pidsLimit).toBeNull()
  })

  it('computes cpuPercent from the usage delta', () => {
    const cgroup = makeCgroup()
    writeFileSync(join(leaf, 'cpu.stat'), 'usage_usec 2000000\nuser_usec 0\nsystem_usec 0\n')
    cgroup.sample(10_000)
    // 500 ms of CPU over 1000 ms of wall time is half of one CPU.
    writeFileSync(join(leaf, 'cpu.stat'), 'usage_usec 2500000\nuser_usec 0\nsystem_usec 0\n')
    expect(cgroup.sample(11_000).cpuPercent).toBe(50)
    // Two full CPUs over the next 500 ms.
    writeFileSync(join(leaf, 'cpu.stat'), 'usage_usec 3500000\nuser_usec 0\nsystem_usec 0\n')
    expect(cgroup.sample(11_500).cpuPercent).toBe(200)
  })

  it('removes the leaf and keeps the parent', async () => {
    const cgroup = makeCgroup()
    // The kernel drops a cgroup's files with rmdir; a plain folder must be emptied first.
    for (const file of readdirSync(leaf)) unlinkSync(join(leaf, file))
    await cgroup.remove()
    expect(existsSync(leaf)).toBe(false)
    expect(existsSync(join(root, 'blackhole'))).toBe(true)
    expect(cgroup.exists()).toBe(false)
  })

  it('treats an already removed leaf as removed', async () => {
    rmSync(leaf, { recursive: true })
    await expect(makeCgroup().remove()).resolves.toBeUndefined()
  })

  it('rejects names with path separators', () => {
    expect(() => makeCgroup('../etc')).toThrow(/invalid cgroup name "\.\.\/etc"/)
  })
})
