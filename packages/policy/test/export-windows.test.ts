import { describe, expect, it } from 'vitest'
import { exportProfile } from '../src/export/index.js'
import { windowsPathFor, type WindowsPlan } from '../src/export/windows.js'
import type { Profile } from '../src/profile.js'
import { everyFeatureProfile, identityProfile, strictProfile, wideOpenProfile, withChanges, workerProfile } from './fixtures/export/profiles.js'

function planOf(profile: Profile): WindowsPlan {
  return JSON.parse(exportProfile(profile, 'windows').text) as WindowsPlan
}

describe('windows export', () => {
  it('removes every privilege without a capability', () => {
    const plan = planOf(strictProfile('strict'))
    expect(plan.token.privilegesKept).toEqual(['SeChangeNotifyPrivilege'])
    expect(plan.token.privilegesRemoved).toContain('SeDebugPrivilege')
    expect(plan.token.privilegesRemoved).toContain('SeImpersonatePrivilege')
    expect(plan.token.privilegesRemoved).not.toContain('SeChangeNotifyPrivilege')
    expect(plan.token.integrityLevel).toBe('Low')
    expect(plan.token.sidsToDisable).toContain('BUILTIN\\Administrators')
    expect(plan.token.restrictingSids[0]).toBe('S-1-5-12')
  })

  it('keeps privileges mapped from capabilities', () => {
    const plan = planOf(everyFeatureProfile)
    expect(plan.token.privilegesKept).toContain('SeSystemtimePrivilege')
    expect(plan.token.privilegesKept).toContain('SeTakeOwnershipPrivilege')
    expect(plan.token.privilegesRemoved).not.toContain('SeSystemtimePrivilege')
    expect(plan.token.integrityLevel).toBe('Medium')
  })

  it('warns about capabilities without a privilege', () => {
    const { warnings } = exportProfile(identityProfile, 'windows')
    expect(warnings.some((w) => w.startsWith('capabilities CAP_NET_BIND_SERVICE: no Windows equivalent'))).toBe(true)
    const open = exportProfile(wideOpenProfile, 'windows').warnings
    expect(open.some((w) => w.startsWith('capabilities CAP_NET_ADMIN: no Windows privilege'))).toBe(true)
  })

  it('sets job limits', () => {
    const { job } = planOf(identityProfile)
    expect(job.ActiveProcessLimit).toBe(64)
    expect(job.JobMemoryLimit).toBe(536870912)
    expect(job.ProcessMemoryLimit).toBe(536870912)
    expect(job.CpuRateControl).toEqual({ enabled: true, hardCap: true, cpus: 1 })
    expect(job.KillOnJobClose).toBe(true)
    expect(job.DieOnUnhandledException).toBe(true)
    expect(job.UIRestrictions).toContain('READCLIPBOARD')
    const open = planOf(wideOpenProfile).job
    expect(open.JobMemoryLimit).toBeNull()
    expect(open.CpuRateControl.enabled).toBe(false)
  })

  it('maps writable paths to Windows folders', () => {
    const plan = planOf(identityProfile)
    const byPath = new Map(plan.filesystem.grants.map((grant) => [grant.linuxPath, grant]))
    expect(byPath.get('/tmp')?.windowsPath).toBe('%TEMP%\\Blackhole\\identity')
    expect(byPath.get('/var/log/blackhole/identity')?.windowsPath).toBe('%ProgramData%\\Blackhole\\identity\\log\\blackhole\\identity')
    expect(byPath.get('/var/lib/identity')?.rights).toBe('Modify')
    expect(byPath.get('/etc/identity')?.windowsPath).toBeNull()
    expect(byPath.get('/etc/identity')?.rights).toBe('Read')
    expect(windowsPathFor('/proc/self', 'x')).toBeNull()
    expect(windowsPathFor('/var/run/x', 'svc')).toBe('%ProgramData%\\Blackhole\\svc\\run\\x')
    expect(windowsPathFor('/var/library', 'x')).toBeNull()
  })

  it('marks unmappable paths with a warning', () => {
    const { warnings } = exportProfile(identityProfile, 'windows')
    expect(warnings).toContain('filesystem.file_access /etc/identity: no Windows path matches it; the plan marks it unmappable')
    expect(warnings).toContain('filesystem.denied_paths /etc/shadow: no Windows path matches it; the plan marks it unmappable')
  })

  it('plans firewall rules per network mode', () => {
    const veth = planOf(identityProfile).network
    expect(veth.defaultAction).toEqual({ inbound: 'Block', outbound: 'Block' })
    const outbound = veth.firewallRules.find((rule) => rule.name === 'Blackhole identity outbound')
    expect(outbound?.remoteAddresses).toEqual(['10.20.0.0/16'])
    expect(outbound?.remotePorts).toEqual([443, 5432])
    const listen = veth.firewallRules.find((rule) => rule.name === 'Blackhole identity listen')
    expect(listen?.localPorts).toEqual([443, 5432])
    expect(veth.firewallRules.every((rule) => rule.action === 'Allow')).toBe(true)

    const none = planOf(strictProfile('quiet')).network
    expect(none.firewallRules).toEqual([])
    expect(none.defaultAction.outbound).toBe('Block')

    const local = planOf(workerProfile).network
    expect(local.firewallRules.map((rule) => rule.name)).toEqual(['Blackhole worker localhost'])

    const host = planOf(wideOpenProfile).network
    expect(host.defaultAction).toEqual({ inbound: 'Allow', outbound: 'Allow' })
    expect(host.firewallRules).toEqual([])
  })

  it('warns about syscalls and modes', () => {
    const { warnings } = exportProfile(withChanges(workerProfile, {}), 'windows')
    expect(warnings.some((w) => w.startsWith('syscalls [kill, personality]'))).toBe(true)
    expect(warnings.some((w) => w.startsWith('enforce_mode: permissive'))).toBe(true)
    expect(warnings.some((w) => w.startsWith('resource_limits.max_file_descriptors 256'))).toBe(true)
    expect(warnings.some((w) => w.startsWith('network.allow_unix_sockets'))).toBe(false)
    expect(warnings.some((w) => w.startsWith('user worker: a restricted token derives'))).toBe(true)
    expect(exportProfile(identityProfile, 'windows').warnings.some((w) => w.startsWith('user'))).toBe(false)
  })
})
