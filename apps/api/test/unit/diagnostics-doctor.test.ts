import { describe, expect, it } from 'vitest'
import { doctorChecks, doctorStatus, formatDoctor, type HostFactsReport } from '../../src/diagnostics/doctor.js'

/** Returns the facts of a host that offers everything. */
function completeHost(): HostFactsReport {
  return {
    kernel: '6.18.0',
    root: true,
    uid: 0,
    namespaces: { pid: true, mnt: true, net: true, ipc: true, uts: true, cgroup: true },
    userNamespaces: { max: 1000, unprivilegedClone: null },
    cgroups: { layout: 'v2', unified: '/sys/fs/cgroup', controllers: { memory: 2, pids: 2, cpu: 2, cpuacct: 2, freezer: 2 } },
    landlockAbi: 7,
    seccompFilter: true,
    seccompNotify: true,
    audit: { netlink: true, enabled: 1, error: '' },
    apparmor: { enabled: true, parser: '/usr/sbin/apparmor_parser' },
    pidfd: true,
    clone3: true,
    missingCapabilities: [],
    tools: { bwrap: '/usr/bin/bwrap', nft: '/usr/sbin/nft', ip: '/usr/sbin/ip' },
  }
}

function lineFor(output: string, name: string): string {
  return output.split('\n').find((line) => new RegExp(`^(ok  |warn|FAIL)  ${name} `).test(line)) ?? ''
}

describe('formatDoctor', () => {
  it('passes a complete host', () => {
    const report = completeHost()
    const output = formatDoctor(report)
    expect(doctorStatus(report)).toBe(0)
    expect(output).not.toMatch(/^(warn|FAIL)/m)
    expect(output).toContain('This host can run Blackhole sandboxes.')
    expect(lineFor(output, 'Landlock')).toContain('ABI 7')
    expect(lineFor(output, 'cgroups')).toContain('v2 (cgroup2 at /sys/fs/cgroup): memory v2, pids v2')
  })

  it('fails without root', () => {
    const report = { ...completeHost(), root: false, uid: 1000 }
    const output = formatDoctor(report)
    expect(doctorStatus(report)).toBe(1)
    expect(lineFor(output, 'root')).toMatch(/^FAIL {2}root +uid 1000$/)
    expect(output).toContain('not root: the launcher needs CAP_SYS_ADMIN')
    expect(output).toContain('This host cannot run Blackhole sandboxes: missing root.')
  })

  it('fails without seccomp', () => {
    const report = { ...completeHost(), seccompFilter: false, seccompNotify: false }
    const output = formatDoctor(report)
    expect(doctorStatus(report)).toBe(1)
    expect(lineFor(output, 'seccomp filter')).toMatch(/^FAIL/)
    expect(lineFor(output, 'seccomp user notification')).toMatch(/^FAIL/)
    expect(output).toContain('missing seccomp filter, seccomp user notification.')
  })

  it('fails without namespaces', () => {
    const report = completeHost()
    report.namespaces = { ...report.namespaces, net: false, pid: false }
    const output = formatDoctor(report)
    expect(doctorStatus(report)).toBe(1)
    expect(lineFor(output, 'namespaces')).toContain('missing pid, net')
    expect(output).toContain('no pid, net namespaces: the launcher cannot isolate services')
  })

  it('fails without a memory controller', () => {
    const report = completeHost()
    report.cgroups = { layout: 'v1', unified: null, controllers: { memory: null, pids: 1, cpu: 1, cpuacct: 1, freezer: 1 } }
    expect(doctorStatus(report)).toBe(1)
    expect(formatDoctor(report)).toContain('no memory controller: every profile has a memory limit')
  })

  it('describes a hybrid host like this one', () => {
    const report = completeHost()
    report.cgroups = { layout: 'hybrid', unified: '/sys/fs/cgroup/unified', controllers: { memory: 1, pids: 1, cpu: 1, cpuacct: 1, freezer: 1 } }
    report.missingCapabilities = ['CAP_SYS_RESOURCE']
    report.apparmor = { enabled: false, parser: '/usr/sbin/apparmor_parser' }
    const output = formatDoctor(report)
    expect(doctorStatus(report)).toBe(0)
    expect(lineFor(output, 'cgroups')).toContain('hybrid (cgroup2 at /sys/fs/cgroup/unified): memory v1, pids v1, cpu v1, cpuacct v1, freezer v1')
    expect(lineFor(output, 'bounding set')).toMatch(/^warn {2}bounding set +missing CAP_SYS_RESOURCE$/)
    expect(output).toContain('the supervisor lacks CAP_SYS_RESOURCE: profiles that grant it start without it')
    expect(lineFor(output, 'AppArmor')).toMatch(/^warn/)
    expect(output).toContain('checked with apparmor_parser -Q -K but not loaded')
  })

  it.each([
    [0, 'no Landlock: every profile in enforce mode is rejected'],
    [3, 'Landlock ABI 3: TCP port rules need ABI 4'],
    [5, 'Landlock ABI 5: signal and abstract unix socket scoping need ABI 6'],
    [6, 'Landlock ABI 6: denial audit records need ABI 7'],
  ])('explains Landlock ABI %i', (abi, impact) => {
    const report = { ...completeHost(), landlockAbi: abi }
    const output = formatDoctor(report)
    expect(doctorStatus(report)).toBe(0)
    expect(lineFor(output, 'Landlock')).toMatch(new RegExp(`^warn {2}Landlock +ABI ${abi}$`))
    expect(output).toContain(impact)
  })

  it('explains a missing audit socket', () => {
    const report = { ...completeHost(), audit: { netlink: false, enabled: null, error: 'EPROTONOSUPPORT' } }
    const output = formatDoctor(report)
    expect(lineFor(output, 'kernel audit')).toContain('netlink socket failed: EPROTONOSUPPORT')
    expect(output).toContain('no kernel audit socket: Landlock denials are not reported as events')
  })

  it('warns about missing tools only', () => {
    const report = { ...completeHost(), tools: { bwrap: null, nft: null, ip: null }, clone3: false }
    const output = formatDoctor(report)
    expect(doctorStatus(report)).toBe(0)
    expect(lineFor(output, 'bwrap')).toMatch(/^warn {2}bwrap +not found$/)
    expect(output).toContain('bench/launch skips its bubblewrap comparison')
    expect(output).toContain('the launcher falls back to clone')
  })

  it('prints an impact line under each missing piece only', () => {
    const report = { ...completeHost(), pidfd: false }
    const checks = doctorChecks(report)
    const pidfd = checks.find((c) => c.name === 'pidfd')
    expect(pidfd?.ok).toBe(false)
    expect(pidfd?.required).toBe(true)
    expect(checks.filter((c) => c.ok).every((c) => c.impact === '')).toBe(true)
    const lines = formatDoctor(report).split('\n')
    const index = lines.findIndex((line) => line.startsWith('FAIL  pidfd'))
    expect(lines[index + 1]?.trim()).toMatch(/^no pidfd \(Linux 5\.3\+\)/)
  })
})
