import { describe, expect, it } from 'vitest'
import type { Profile } from '../src/profile.js'
import { formatScore, ratingOf, scoreProfile, type ScoreResult } from '../src/score.js'
import {
  everyFeatureProfile, exampleProfiles, hardenedProfile, identityProfile, strictProfile, wideOpenProfile, workerProfile,
} from './fixtures/export/profiles.js'
import { yamlExampleProfiles, yamlFeatureProfiles } from './fixtures/export/parsed.js'

const MiB = 1024 * 1024

/** Returns the score before rounding, recomputed from the lines. */
function exactScore(result: ScoreResult): number {
  const total = result.lines.reduce((sum, line) => sum + line.weight, 0)
  return (10 * result.lines.reduce((sum, line) => sum + line.weight * line.exposure, 0)) / total
}

const exact = (profile: Profile): number => exactScore(scoreProfile(profile))

type Tightening = [field: string, tighten: (copy: Profile) => void]

const STRICTER_MODE: Record<string, Profile['filesystem']['fileAccess'][number]['mode']> = { rwx: 'rx', rw: 'r', w: 'r', rx: 'r', x: 'r' }
const STRICTER_NET: Record<string, Profile['network']['mode']> = { host: 'veth', veth: 'none' }

/** Lists every single-field tightening that applies to `profile`, each as a change to a copy. */
function tighteningsOf(profile: Profile): Tightening[] {
  const list: Tightening[] = []
  const fs = profile.filesystem
  const net = profile.network
  const limits = profile.resourceLimits

  if (profile.user === 'root') list.push(['user root -> named', (p) => { p.user = 'svc' }])
  if (profile.user !== null) list.push(['user -> dynamic', (p) => { p.user = null }])
  if (profile.group !== null) list.push(['group -> own', (p) => { p.group = null }])
  if (profile.enforceMode === 'disabled') list.push(['enforce_mode -> permissive', (p) => { p.enforceMode = 'permissive' }])
  if (profile.enforceMode !== 'enforce') list.push(['enforce_mode -> enforce', (p) => { p.enforceMode = 'enforce' }])
  for (const cap of profile.capabilities) {
    list.push([`capabilities - ${cap}`, (p) => { p.capabilities = p.capabilities.filter((c) => c !== cap) }])
  }
  if (!fs.readOnlyRoot) list.push(['read_only_root -> true', (p) => { p.filesystem.readOnlyRoot = true }])
  fs.writablePaths.forEach((entry, i) => {
    list.push([`writable_paths - ${entry.path}`, (p) => { p.filesystem.writablePaths.splice(i, 1) }])
  })
  fs.dataPaths.forEach((path, i) => {
    list.push([`data_paths - ${path}`, (p) => { p.filesystem.dataPaths.splice(i, 1) }])
  })
  fs.fileAccess.forEach((rule, i) => {
    list.push([`file_access - ${rule.path}`, (p) => { p.filesystem.fileAccess.splice(i, 1) }])
    const narrower = STRICTER_MODE[rule.mode]
    if (narrower) list.push([`file_access ${rule.path} ${rule.mode} -> ${narrower}`, (p) => { p.filesystem.fileAccess[i]!.mode = narrower }])
  })
  list.push(['denied_paths + /srv/secret', (p) => { p.filesystem.deniedPaths.push('/srv/secret') }])
  const stricterNet = STRICTER_NET[net.mode]
  if (stricterNet) list.push([`network.mode -> ${stricterNet}`, (p) => { p.network.mode = stricterNet }])
  if (net.allowLocalhost) list.push(['allow_localhost -> false', (p) => { p.network.allowLocalhost = false }])
  if (net.allowUnixSockets) list.push(['allow_unix_sockets -> false', (p) => { p.network.allowUnixSockets = false }])
  net.outbound.forEach((cidr, i) => {
    list.push([`outbound - ${cidr}`, (p) => { p.network.outbound.splice(i, 1) }])
    const [address, prefix] = cidr.split('/')
    const bits = address!.includes(':') ? 128 : 32
    if (Number(prefix) < bits) list.push([`outbound ${cidr} narrower`, (p) => { p.network.outbound[i] = `${address}/${Number(prefix) + 8 > bits ? bits : Number(prefix) + 8}` }])
  })
  const ports = new Set([...net.allowedPorts, ...net.listen.flatMap((s) => (s.kind === 'tcp' ? [s.port] : []))])
  for (const port of ports) {
    // A port is open through allowed_ports or a TCP listener; closing it removes both.
    list.push([`port - ${port}`, (p) => {
      p.network.allowedPorts = p.network.allowedPorts.filter((x) => x !== port)
      p.network.listen = p.network.listen.filter((s) => s.kind !== 'tcp' || s.port !== port)
    }])
  }
  net.listen.forEach((socket, i) => {
    if (socket.kind === 'unix') list.push([`listen - ${socket.name}`, (p) => { p.network.listen.splice(i, 1) }])
  })
  profile.syscalls.allowed.forEach((rule, i) => {
    list.push([`syscalls.allowed - ${rule.name}`, (p) => { p.syscalls.allowed.splice(i, 1) }])
  })
  const extra = ['chroot', 'mknod', 'kill', 'mkdir'].find((name) => !profile.syscalls.denied.some((rule) => rule.name === name))!
  list.push([`syscalls.denied + ${extra}`, (p) => { p.syscalls.denied.push({ name: extra, errno: null }) }])
  list.push(['max_memory smaller', (p) => { p.resourceLimits.maxMemory = limits.maxMemory === null ? 1024 * MiB : limits.maxMemory / 2 }])
  list.push(['max_cpu smaller', (p) => { p.resourceLimits.maxCpu = limits.maxCpu === null ? 1 : limits.maxCpu / 2 }])
  if (limits.maxProcesses > 1) list.push(['max_processes smaller', (p) => { p.resourceLimits.maxProcesses = Math.floor(limits.maxProcesses / 2) }])
  if (limits.maxFileDescriptors > 1) list.push(['max_file_descriptors smaller', (p) => { p.resourceLimits.maxFileDescriptors = Math.floor(limits.maxFileDescriptors / 2) }])
  list.push(['max_tmpfs smaller', (p) => { p.resourceLimits.maxTmpfs = limits.maxTmpfs === null ? 64 * MiB : limits.maxTmpfs / 2 }])
  profile.environment.allow.forEach((name, i) => {
    list.push([`environment.allow - ${name}`, (p) => { p.environment.allow.splice(i, 1) }])
  })
  return list
}

const bases: Profile[] = [...exampleProfiles, ...yamlExampleProfiles, ...yamlFeatureProfiles, everyFeatureProfile, wideOpenProfile]

describe('scoreProfile', () => {
  for (const base of bases) {
    describe(`tightening ${base.name}`, () => {
      const before = exact(base)
      for (const [field, tighten] of tighteningsOf(base)) {
        it(`lowers the score: ${field}`, () => {
          const copy = structuredClone(base)
          tighten(copy)
          const after = scoreProfile(copy)
          expect(exactScore(after)).toBeLessThan(before)
          expect(after.score).toBeLessThanOrEqual(scoreProfile(base).score)
        })
      }
    })
  }

  it('covers every field in the tightenings', () => {
    const fields = new Set(bases.flatMap((base) => tighteningsOf(base).map(([field]) => field.split(/[ -]/)[0])))
    for (const field of ['user', 'group', 'enforce_mode', 'capabilities', 'read_only_root', 'writable_paths', 'data_paths',
      'file_access', 'denied_paths', 'network.mode', 'allow_localhost', 'allow_unix_sockets', 'outbound', 'port', 'listen',
      'syscalls.allowed', 'syscalls.denied', 'max_memory', 'max_cpu', 'max_processes', 'max_file_descriptors', 'max_tmpfs',
      'environment.allow']) {
      expect(fields.has(field), field).toBe(true)
    }
  })

  it('rates hardened below the examples', () => {
    const hardened = scoreProfile(hardenedProfile)
    for (const example of [...exampleProfiles, ...yamlExampleProfiles]) {
      expect(hardened.score, example.name).toBeLessThan(scoreProfile(example).score)
    }
    expect(hardened.rating).toBe('SAFE')
  })

  it('rates wide-open above the examples', () => {
    const open = scoreProfile(wideOpenProfile)
    for (const example of [...exampleProfiles, ...yamlExampleProfiles]) {
      expect(open.score, example.name).toBeGreaterThan(scoreProfile(example).score)
    }
    expect(open.score).toBeGreaterThan(7)
    expect(open.rating).toBe('UNSAFE')
  })

  it('keeps the same lines and weights for every profile', () => {
    const shape = (profile: Profile) => scoreProfile(profile).lines.map((line) => `${line.setting}:${line.weight}`)
    const reference = shape(strictProfile('s'))
    for (const profile of [...bases, hardenedProfile]) expect(shape(profile), profile.name).toEqual(reference)
  })

  it('keeps exposures between 0 and 1', () => {
    for (const profile of [...bases, hardenedProfile, strictProfile('s')]) {
      for (const line of scoreProfile(profile).lines) {
        expect(line.exposure, `${profile.name} ${line.setting}`).toBeGreaterThanOrEqual(0)
        expect(line.exposure, `${profile.name} ${line.setting}`).toBeLessThanOrEqual(1)
        expect(line.weight).toBeGreaterThan(0)
        expect(line.reason.length).toBeGreaterThan(0)
      }
    }
  })

  it('rounds the formula to one decimal', () => {
    for (const profile of bases) {
      const result = scoreProfile(profile)
      expect(result.score).toBe(Math.round(exactScore(result) * 10) / 10)
      expect(result.score).toBeGreaterThanOrEqual(0)
      expect(result.score).toBeLessThanOrEqual(10)
    }
  })

  it('weighs dangerous capabilities more', () => {
    const withCap = (cap: string) => exact({ ...strictProfile('c'), capabilities: [cap] })
    expect(withCap('CAP_SYS_ADMIN')).toBeGreaterThan(withCap('CAP_NET_BIND_SERVICE'))
    expect(withCap('CAP_SYS_PTRACE')).toBeGreaterThan(withCap('CAP_CHOWN'))
    expect(withCap('CAP_NET_BIND_SERVICE')).toBeGreaterThan(exact(strictProfile('c')))
    expect(withCap('CAP_AUDIT_READ')).toBeGreaterThan(exact(strictProfile('c')))
  })

  it('rates host over veth over none', () => {
    const mode = (m: Profile['network']['mode']) => exact({ ...identityProfile, network: { ...identityProfile.network, mode: m } })
    expect(mode('host')).toBeGreaterThan(mode('veth'))
    expect(mode('veth')).toBeGreaterThan(mode('none'))
  })

  it('rates 0.0.0.0/0 as the widest destination', () => {
    const dest = (cidr: string) => exact({ ...identityProfile, network: { ...identityProfile.network, outbound: [cidr] } })
    expect(dest('0.0.0.0/0')).toBeGreaterThan(dest('10.0.0.0/8'))
    expect(dest('10.0.0.0/8')).toBeGreaterThan(dest('10.0.0.1/32'))
    expect(dest('::/0')).toBeGreaterThan(dest('2001:db8::/32'))
  })

  it('rates secret pass-through above plain names', () => {
    const env = (name: string) => exact({ ...strictProfile('e'), environment: { allow: [name], set: {} } })
    expect(env('API_TOKEN')).toBeGreaterThan(env('TZ'))
    expect(env('LD_PRELOAD')).toBeGreaterThan(env('TZ'))
  })

  it('maps scores to ratings', () => {
    expect(ratingOf(0)).toBe('SAFE')
    expect(ratingOf(1)).toBe('OK')
    expect(ratingOf(3)).toBe('MEDIUM')
    expect(ratingOf(5)).toBe('EXPOSED')
    expect(ratingOf(7)).toBe('UNSAFE')
    expect(ratingOf(10)).toBe('UNSAFE')
  })
})

describe('formatScore', () => {
  it('prints one row per setting and the total', () => {
    const result = scoreProfile(workerProfile)
    const text = formatScore(result)
    const rows = text.trimEnd().split('\n')
    expect(rows[0]).toMatch(/^SETTING\s+WEIGHT\s+EXPOSURE\s+REASON$/)
    expect(rows).toHaveLength(result.lines.length + 3)
    expect(rows.at(-1)).toBe(`Overall exposure: ${result.score.toFixed(1)} ${result.rating}`)
    expect(text).toMatch(/^user\s+10\s+0\.30\s+named user worker may own files of other services$/m)
    expect(text).toMatch(/^enforce_mode\s+10\s+0\.60\s+permissive: denials are only logged$/m)
  })
})
