import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { detectLayout, parseCgroupMounts, placeControllers } from '../../src/sandbox/cgroups.js'

// Sample mountinfo texts as three kinds of host print them. The cgroup2
// mount points are temporary folders, because detectLayout reads the
// controllers from cgroup.controllers below the mount point.

const V1_MOUNTINFO = [
  '22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw',
  '25 22 0:23 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
  '26 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,name=systemd',
  '29 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct',
  '30 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory',
  '31 25 0:29 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,pids',
  '32 25 0:30 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,freezer',
  '33 25 0:31 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,net_cls,net_prio',
].join('\n')

function v2Mountinfo(mountPoint: string): string {
  return [
    '22 28 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw',
    `26 22 0:24 / ${mountPoint} rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot`,
  ].join('\n')
}

// The layout of the machines this project is developed on: v1 controllers
// under /sys/fs/cgroup/NAME and a cgroup2 mount without controllers.
function hybridMountinfo(unified: string): string {
  return [
    '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
    '32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
    '33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct',
    '34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset',
    '35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
    '37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer',
    '39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
    '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
    `41 31 0:38 / ${unified} rw,relatime - cgroup2 cgroup2 rw`,
  ].join('\n')
}

let tmp: string

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'cgroup-layout-'))
})

afterEach(() => {
  rmSync(tmp, { recursive: true, force: true })
})

describe('parseCgroupMounts', () => {
  it('keeps only cgroup mounts', () => {
    const mounts = parseCgroupMounts(V1_MOUNTINFO)
    expect(mounts.map((m) => m.mountPoint)).toEqual([
      '/sys/fs/cgroup/systemd',
      '/sys/fs/cgroup/cpu,cpuacct',
      '/sys/fs/cgroup/memory',
      '/sys/fs/cgroup/pids',
      '/sys/fs/cgroup/freezer',
      '/sys/fs/cgroup/net_cls,net_prio',
    ])
  })

  it('decodes octal escapes in mount points', () => {
    const line = '41 31 0:38 / /mnt/with\\040space rw,relatime - cgroup cgroup rw,pids'
    const mounts = parseCgroupMounts(line)
    expect(mounts[0]?.mountPoint).toBe('/mnt/with space')
  })

  it('skips truncated lines', () => {
    expect(parseCgroupMounts('41 31 0:38 / /x rw - cgroup2')).toEqual([])
  })
})

describe('detectLayout', () => {
  it('reads a v1 host', () => {
    const layout = detectLayout(V1_MOUNTINFO)
    expect(layout.kind).toBe('v1')
    expect(layout.unified).toBeNull()
    expect(layout.v1.cpu).toBe('/sys/fs/cgroup/cpu,cpuacct')
    expect(layout.v1.cpuacct).toBe('/sys/fs/cgroup/cpu,cpuacct')
    expect(layout.v1.memory).toBe('/sys/fs/cgroup/memory')
    expect(layout.v1.pids).toBe('/sys/fs/cgroup/pids')
    expect(layout.v1.freezer).toBe('/sys/fs/cgroup/freezer')
    expect(layout.v1.net_prio).toBe('/sys/fs/cgroup/net_cls,net_prio')
    expect(layout.v1).not.toHaveProperty('name=systemd')
    expect(layout.v1).not.toHaveProperty('xattr')
  })

  it('reads a v2 host and its controllers', () => {
    writeFileSync(join(tmp, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n')
    const layout = detectLayout(v2Mountinfo(tmp))
    expect(layout.kind).toBe('v2')
    expect(layout.unified).toBe(tmp)
    expect(layout.unifiedControllers).toEqual(['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc'])
    expect(layout.v1).toEqual({})
  })

  it('reads a hybrid host with an empty cgroup2', () => {
    writeFileSync(join(tmp, 'cgroup.controllers'), '')
    const layout = detectLayout(hybridMountinfo(tmp))
    expect(layout.kind).toBe('hybrid')
    expect(layout.unified).toBe(tmp)
    expect(layout.unifiedControllers).toEqual([])
    expect(layout.v1.memory).toBe('/sys/fs/cgroup/memory')
    expect(layout.v1.cpuacct).toBe('/sys/fs/cgroup/cpuacct')
  })

  it('reports none without cgroup mounts', () => {
    const layout = detectLayout('22 28 0:21 / /sys rw,relatime shared:7 - sysfs sysfs rw')
    expect(layout.kind).toBe('none')
  })
})

describe('placeControllers', () => {
  it('uses v1 mounts on a hybrid host with an empty cgroup2', () => {
    writeFileSync(join(tmp, 'cgroup.controllers'), '')
    const placements = placeControllers(detectLayout(hybridMountinfo(tmp)))
    expect(placements.memory).toEqual({ version: 1, mountPoint: '/sys/fs/cgroup/memory' })
    expect(placements.pids).toEqual({ version: 1, mountPoint: '/sys/fs/cgroup/pids' })
    expect(placements.cpu).toEqual({ version: 1, mountPoint: '/sys/fs/cgroup/cpu' })
    expect(placements.cpuacct).toEqual({ version: 1, mountPoint: '/sys/fs/cgroup/cpuacct' })
    expect(placements.freezer).toEqual({ version: 1, mountPoint: '/sys/fs/cgroup/freezer' })
  })

  it('prefers v2 per controller on a hybrid host', () => {
    writeFileSync(join(tmp, 'cgroup.controllers'), 'memory pids\n')
    const placements = placeControllers(detectLayout(hybridMountinfo(tmp)))
    expect(placements.memory).toEqual({ version: 2, mountPoint: tmp })
    expect(placements.pids).toEqual({ version: 2, mountPoint: tmp })
    expect(placements.cpu).toEqual({ version: 1, mountPoint: '/sys/fs/cgroup/cpu' })
    expect(placements.freezer).toEqual({ version: 1, mountPoint: '/sys/fs/cgroup/freezer' })
  })

  it('uses the cgroup2 core freezer and cpu.stat on a v2 host', () => {
    writeFileSync(join(tmp, 'cgroup.controllers'), 'memory pids\n')
    const placements = placeControllers(detectLayout(v2Mountinfo(tmp)))
    expect(placements.freezer).toEqual({ version: 2, mountPoint: tmp })
    expect(placements.cpuacct).toEqual({ version: 2, mountPoint: tmp })
    expect(placements.cpu).toBeUndefined()
  })
})
