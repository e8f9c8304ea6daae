import { describe, expect, it } from 'vitest'
import { exportProfile } from '../src/export/index.js'
import { macPath, sbplString } from '../src/export/sbpl.js'
import type { Profile } from '../src/profile.js'
import { yamlExampleProfiles, yamlFeatureProfiles } from './fixtures/export/parsed.js'
import { everyFeatureProfile, exampleProfiles, identityProfile, strictProfile, withChanges, workerProfile } from './fixtures/export/profiles.js'
import { readSexprs, type Sexpr } from './fixtures/export/sexpr.js'

const isList = (form: Sexpr): form is Sexpr[] => Array.isArray(form)
const str = (value: string): Sexpr => ({ string: value })

function formsOf(profile: Profile, command?: string[]): Sexpr[][] {
  const forms = readSexprs(exportProfile(profile, 'sbpl', command ? { command } : {}).text)
  return forms.filter(isList)
}

/** Returns the rules `(allow|deny OPERATION... FILTER...)` whose operations include `operation`. */
function rules(forms: Sexpr[][], verb: 'allow' | 'deny', operation: string): Sexpr[][] {
  return forms.filter((form) => form[0] === verb && form.includes(operation))
}

const cases: [string, Profile][] = [
  ...exampleProfiles.map((profile): [string, Profile] => [profile.name, profile]),
  ...[...yamlExampleProfiles, ...yamlFeatureProfiles].map((profile): [string, Profile] => [`yaml ${profile.name}`, profile]),
  ['every-feature', everyFeatureProfile],
  ['strict', strictProfile('strict')],
]

describe('sbpl export', () => {
  for (const [label, profile] of cases) {
    it(`reads as s-expressions with deny default first for ${label}`, () => {
      const forms = formsOf(profile, ['/usr/local/bin/app'])
      expect(forms[0]).toEqual(['version', '1'])
      expect(forms[1]).toEqual(['deny', 'default'])
      expect(forms.filter((form) => form[0] === 'allow' && form.includes('default'))).toEqual([])
    })

    it(`allows writes under each writable path for ${label}`, () => {
      const forms = formsOf(profile)
      const writes = rules(forms, 'allow', 'file-write*')
      const paths = [...profile.filesystem.writablePaths.map((entry) => entry.path), ...profile.filesystem.dataPaths]
      for (const path of paths) {
        const filter = ['subpath', str(macPath(path))]
        expect(writes.some((rule) => rule.some((part) => JSON.stringify(part) === JSON.stringify(filter))), path).toBe(true)
      }
      // Every write rule is limited to a subpath: none opens the whole disk.
      for (const rule of writes) {
        const filters = rule.filter(isList)
        expect(filters.length).toBeGreaterThan(0)
        for (const filter of filters) expect(filter[0]).toBe('subpath')
      }
    })
  }

  it('reader rejects unbalanced text', () => {
    expect(() => readSexprs('(version 1')).toThrow(/missing \)/)
    expect(() => readSexprs('(allow "open)')).toThrow(/unterminated string/)
    expect(() => readSexprs(')')).toThrow(/unexpected \)/)
    expect(readSexprs('(a "b\\"c") ; note\n(d)')).toEqual([['a', { string: 'b"c' }], ['d']])
  })

  it('maps /tmp and /var into /private', () => {
    const writes = rules(formsOf(identityProfile), 'allow', 'file-write*')
    expect(writes).toContainEqual(['allow', 'file-read*', 'file-write*', ['subpath', str('/private/tmp')]])
    expect(writes).toContainEqual(['allow', 'file-read*', 'file-write*', ['subpath', str('/private/var/log/blackhole/identity')]])
    expect(macPath('/srv/x')).toBe('/srv/x')
    expect(macPath('/etc')).toBe('/private/etc')
    expect(macPath('/variable')).toBe('/variable')
  })

  it('denies denied paths after the allows', () => {
    const forms = formsOf(everyFeatureProfile)
    const denies = rules(forms, 'deny', 'file-read*')
    expect(denies).toContainEqual(['deny', 'file-read*', 'file-write*', 'process-exec', ['subpath', str('/private/etc/shadow')]])
    expect(denies).toContainEqual(['deny', 'file-read*', 'file-write*', 'process-exec', ['subpath', str('/srv/with space/secret')]])
    const lastAllow = forms.map((form) => form[0]).lastIndexOf('allow')
    const firstDeny = forms.findIndex((form, i) => i > 1 && form[0] === 'deny')
    expect(firstDeny).toBeGreaterThan(lastAllow)
  })

  it('limits exec to the command', () => {
    const forms = formsOf(identityProfile, ['/usr/local/bin/identity'])
    expect(rules(forms, 'allow', 'process-exec')).toEqual([['allow', 'process-exec', ['literal', str('/usr/local/bin/identity')]]])
    expect(rules(forms, 'allow', 'process-fork')).toHaveLength(1)
    expect(rules(forms, 'allow', 'sysctl-read')).toHaveLength(1)
  })

  it('writes file access modes', () => {
    const forms = formsOf(everyFeatureProfile)
    expect(forms).toContainEqual(['allow', 'file-read*', ['subpath', str('/private/etc/every')]])
    expect(forms).toContainEqual(['allow', 'file-write*', ['subpath', str('/srv/upload')]])
    expect(forms).toContainEqual(['allow', 'process-exec', 'file-map-executable', ['subpath', str('/opt/tool')]])
    expect(forms).toContainEqual(['allow', 'file-read*', 'file-write*', 'process-exec', 'file-map-executable', ['subpath', str('/srv/plugins')]])
  })

  it('allows ports on localhost and the network per mode', () => {
    const veth = formsOf(identityProfile)
    expect(veth).toContainEqual(['allow', 'network-bind', 'network-inbound', ['local', 'tcp', str('*:443')]])
    expect(veth).toContainEqual(['allow', 'network-outbound', ['remote', 'tcp', str('localhost:5432')]])
    expect(rules(veth, 'allow', 'network-outbound').some((rule) => JSON.stringify(rule).includes('*:*'))).toBe(false)

    const none = formsOf(strictProfile('quiet'))
    expect(none.filter((form) => form.some((part) => typeof part === 'string' && part.startsWith('network')))).toEqual([])

    const local = formsOf(workerProfile)
    expect(local).toContainEqual(['allow', 'network-outbound', ['remote', 'ip', str('localhost:*')]])
    expect(local).toContainEqual(['allow', 'network-outbound', ['remote', 'unix-socket']])

    const open = formsOf(withChanges(identityProfile, { network: { ...identityProfile.network, outbound: ['0.0.0.0/0'] } }))
    expect(open).toContainEqual(['allow', 'network-outbound', ['remote', 'ip', str('*:*')]])
  })

  it('limits mach lookups to three services', () => {
    const lookups = rules(formsOf(strictProfile('s')), 'allow', 'mach-lookup')
    expect(lookups).toHaveLength(1)
    expect(lookups[0]!.filter(isList)).toHaveLength(3)
  })

  it('escapes strings', () => {
    expect(sbplString('a"b\\c')).toBe('"a\\"b\\\\c"')
    const forms = formsOf(withChanges(strictProfile('q'), { filesystem: { ...strictProfile('q').filesystem, writablePaths: [{ path: '/srv/a"b', sizeBytes: null }] } }))
    expect(rules(forms, 'allow', 'file-write*')).toContainEqual(['allow', 'file-read*', 'file-write*', ['subpath', str('/srv/a"b')]])
  })

  it('warns about what it cannot express', () => {
    const { warnings } = exportProfile(identityProfile, 'sbpl')
    expect(warnings).toContain('capabilities CAP_NET_BIND_SERVICE: macOS has no Linux capabilities')
    expect(warnings.some((w) => w.startsWith('network.outbound [10.20.0.0/16]'))).toBe(true)
    expect(warnings.some((w) => w.startsWith('syscalls [chroot]'))).toBe(true)
    expect(warnings.some((w) => w.startsWith('resource_limits'))).toBe(true)
    expect(warnings.some((w) => w.startsWith('user (dynamic)'))).toBe(true)
    expect(exportProfile(workerProfile, 'sbpl').warnings.some((w) => w.startsWith('enforce_mode: permissive'))).toBe(true)
  })
})
