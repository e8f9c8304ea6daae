import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { exportProfile } from '../src/export/index.js'
import type { Profile } from '../src/profile.js'
import { yamlExampleProfiles, yamlFeatureProfiles } from './fixtures/export/parsed.js'
import { everyFeatureProfile, exampleProfiles, strictProfile, withChanges } from './fixtures/export/profiles.js'

const workDir = mkdtempSync(join(tmpdir(), 'blackhole-apparmor-'))
afterAll(() => rmSync(workDir, { recursive: true, force: true }))

/** Compiles the text with apparmor_parser offline and throws when the parser rejects it. */
function compile(text: string, file: string): string {
  const path = join(workDir, file)
  writeFileSync(path, text)
  // -Q skips loading into the kernel and -K skips the cache, so no AppArmor kernel support is needed.
  return execFileSync('apparmor_parser', ['-Q', '-K', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

const cases: [string, Profile][] = [
  ...exampleProfiles.map((profile): [string, Profile] => [profile.name, profile]),
  ...[...yamlExampleProfiles, ...yamlFeatureProfiles].map((profile): [string, Profile] => [`yaml-${profile.name}`, profile]),
  ['every-feature', everyFeatureProfile],
  ['strict', strictProfile('strict')],
  ['disabled', withChanges(strictProfile('off'), { enforceMode: 'disabled' })],
]

describe('apparmor export', () => {
  for (const [label, profile] of cases) {
    it(`compiles ${label} with apparmor_parser`, () => {
      const { text } = exportProfile(profile, 'apparmor', { command: ['/usr/bin/node', 'server.js'] })
      expect(() => compile(text, `${label}.aa`)).not.toThrow()
    })
  }

  it('rejects a broken profile in the parser check', () => {
    // Guards the check above: a profile with a syntax error must fail to compile.
    const { text } = exportProfile(exampleProfiles[0]!, 'apparmor')
    expect(() => compile(text.replace('/** r,', '/** r'), 'broken.aa')).toThrow()
  })

  it('writes capabilities, files and denials', () => {
    const { text } = exportProfile(everyFeatureProfile, 'apparmor', { command: ['/usr/bin/node'] })
    expect(text).toContain('profile blackhole-every-feature /usr/bin/node {')
    expect(text).toContain('  capability chown,')
    expect(text).toContain('  capability net_bind_service,')
    expect(text).toContain('  capability sys_time,')
    expect(text).toContain('  /** r,')
    expect(text).toContain('  /run/every{,/**} rwk,')
    const parsed = exportProfile(yamlFeatureProfiles[0]!, 'apparmor').text
    expect(parsed).toContain('  /run/gateway{,/**} rwk,')
    expect(parsed).not.toContain('/var/run')
    expect(text).toContain('  "/srv/with space{,/**}" rwk,')
    expect(text).toContain('  /opt/tool{,/**} mix,')
    expect(text).toContain('  /srv/upload{,/**} w,')
    expect(text).toContain('  deny /etc/shadow{,/**} mrwklx,')
    expect(text).toContain('  network inet stream,')
    expect(text).toContain('  unix,')
    expect(text).not.toContain('capability sys_admin')
  })

  it('leaves inet out without network', () => {
    const { text } = exportProfile(strictProfile('quiet'), 'apparmor')
    expect(text).not.toContain('network inet')
    expect(text).not.toContain('unix,')
    expect(text).not.toContain('capability')
  })

  it('uses complain mode when permissive', () => {
    const { text, warnings } = exportProfile(withChanges(strictProfile('soft'), { enforceMode: 'permissive' }), 'apparmor')
    expect(text).toContain('profile blackhole-soft flags=(complain) {')
    expect(warnings.some((w) => w.startsWith('enforce_mode'))).toBe(false)
  })

  it('makes a valid name from any service name', () => {
    const { text, fileName } = exportProfile(strictProfile('x'), 'apparmor', { serviceName: 'my app/v2' })
    expect(fileName).toBe('blackhole-my_app_v2')
    expect(text).toContain('profile blackhole-my_app_v2 {')
    expect(() => compile(text, 'renamed.aa')).not.toThrow()
  })

  it('warns about ports and limits', () => {
    const { warnings } = exportProfile(exampleProfiles[0]!, 'apparmor')
    expect(warnings.some((w) => w.startsWith('network.allowed_ports [443, 5432]'))).toBe(true)
    expect(warnings.some((w) => w.startsWith('network.outbound [10.20.0.0/16]'))).toBe(true)
    expect(warnings.some((w) => w.startsWith('resource_limits'))).toBe(true)
    expect(warnings.some((w) => w.startsWith('syscalls'))).toBe(true)
  })
})
