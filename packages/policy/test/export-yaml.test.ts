import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { EXPORT_FORMATS, exportProfile } from '../src/export/index.js'
import type { OciConfig } from '../src/export/oci.js'
import type { SeccompProfile } from '../src/export/seccomp.js'
import { parseConfig } from '../src/parse/config.js'
import { scoreProfile } from '../src/score.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/export/every-feature.yaml', import.meta.url))

function parsedProfiles() {
  const result = parseConfig(readFileSync(FIXTURE, 'utf8'), FIXTURE)
  if (!result.ok) throw new Error(result.errors.map((error) => error.message).join('\n'))
  return result.config.profiles
}

describe('export of a parsed YAML profile', () => {
  const profiles = parsedProfiles()
  const gateway = profiles['gateway']!
  const debug = profiles['gateway-debug']!

  it('exports every format', () => {
    for (const { name } of EXPORT_FORMATS) {
      for (const profile of [gateway, debug]) {
        const result = exportProfile(profile, name, { command: ['/usr/bin/env', 'true'] })
        expect(result.text.length, `${name} ${profile.name}`).toBeGreaterThan(0)
      }
    }
  })

  it('carries YAML values into the exports', () => {
    const apparmor = exportProfile(gateway, 'apparmor').text
    expect(apparmor).toContain('  capability chown,')
    expect(apparmor).toContain('  /run/gateway{,/**} rwk,')
    expect(apparmor).toContain('  /srv/uploads{,/**} rwk,')
    expect(apparmor).toContain('  deny /home{,/**} mrwklx,')

    const systemd = exportProfile(gateway, 'systemd').text
    expect(systemd).toMatch(/^User=gateway$/m)
    expect(systemd).toMatch(/^MemoryMax=536870912$/m)
    expect(systemd).toMatch(/^CPUQuota=150%$/m)
    expect(systemd).toMatch(/^IPAddressAllow=10\.0\.0\.0\/8 2001:db8::1\/128$/m)
    expect(systemd).toContain('Environment="GREETING=say \\"hi\\" at 100%% \\\\ now"')

    const seccomp = JSON.parse(exportProfile(gateway, 'seccomp').text) as SeccompProfile
    const chroot = seccomp.syscalls.find((rule) => rule.names.includes('chroot'))
    expect(chroot?.errnoRet).toBe(13)
    expect(seccomp.syscalls.some((rule) => rule.names.includes('ptrace'))).toBe(false)

    const oci = JSON.parse(exportProfile(gateway, 'oci').text) as OciConfig
    const cache = oci.mounts.find((mount) => mount.destination === '/var/cache/gateway')
    expect(cache?.options).toContain(`size=${16 * 1024 * 1024}`)
    expect(oci.process.capabilities.bounding).toEqual(['CAP_CHOWN', 'CAP_NET_BIND_SERVICE'])
  })

  it('follows extends into the exports', () => {
    const oci = JSON.parse(exportProfile(debug, 'oci').text) as OciConfig
    expect(oci.linux.namespaces.map((ns) => ns.type)).not.toContain('network')
    const seccomp = JSON.parse(exportProfile(debug, 'seccomp').text) as SeccompProfile
    expect(seccomp.syscalls.some((rule) => rule.action === 'SCMP_ACT_LOG')).toBe(true)
    expect(seccomp.syscalls.some((rule) => rule.names.includes('personality'))).toBe(false)
    expect(exportProfile(debug, 'apparmor').text).toContain('flags=(complain)')
  })

  it('scores the looser child higher', () => {
    expect(scoreProfile(debug).score).toBeGreaterThan(scoreProfile(gateway).score)
  })
})
