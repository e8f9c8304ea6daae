import { describe, expect, it } from 'vitest'
import { EXPORT_FORMATS, exportProfile, type ExportFormat } from '../src/export/index.js'
import { everyFeatureProfile, exampleProfiles, strictProfile } from './fixtures/export/profiles.js'

const NAMES: ExportFormat[] = ['apparmor', 'seccomp', 'systemd', 'oci', 'sbpl', 'windows']

describe('export formats', () => {
  it('lists six formats with their limits', () => {
    expect(EXPORT_FORMATS.map((info) => info.name)).toEqual(NAMES)
    for (const info of EXPORT_FORMATS) {
      expect(info.description.length, info.name).toBeGreaterThan(10)
      expect(info.cannotExpress.length, info.name).toBeGreaterThan(0)
    }
  })

  for (const format of NAMES) {
    it(`writes ${format} for every fixture`, () => {
      for (const profile of [...exampleProfiles, everyFeatureProfile, strictProfile('strict')]) {
        const result = exportProfile(profile, format, { command: ['/usr/bin/env', 'true'] })
        expect(result.text.length).toBeGreaterThan(0)
        expect(result.text.endsWith('\n')).toBe(true)
        expect(result.fileName.length).toBeGreaterThan(0)
        expect(['application/json', 'text/plain']).toContain(result.mediaType)
        if (result.mediaType === 'application/json') expect(() => JSON.parse(result.text)).not.toThrow()
        for (const warning of result.warnings) expect(warning).toMatch(/^[a-z_.]+[ :[(]/)
      }
    })
  }

  it('names the service from the option', () => {
    expect(exportProfile(strictProfile('p'), 'systemd', { serviceName: 'web' }).fileName).toBe('web.service.d/blackhole.conf')
    expect(exportProfile(strictProfile('p'), 'systemd').fileName).toBe('p.service.d/blackhole.conf')
  })

  it('rejects an unknown format', () => {
    expect(() => exportProfile(strictProfile('p'), 'docker' as ExportFormat)).toThrow(/unknown export format "docker": use one of apparmor, seccomp/)
    expect(() => exportProfile(strictProfile('p'), 'toString' as ExportFormat)).toThrow(/unknown export format/)
  })

  it('rejects an invalid identity', () => {
    expect(() => exportProfile(strictProfile('p'), 'oci', { identity: { uid: -1, gid: 0 } })).toThrow(/invalid identity \{"uid":-1,"gid":0\}/)
    expect(() => exportProfile(strictProfile('p'), 'oci', { identity: { uid: 1.5, gid: 0 } })).toThrow(/invalid identity/)
    expect(() => exportProfile(strictProfile('p'), 'oci', { identity: { uid: 1000, gid: 1000 } })).not.toThrow()
  })

  it('rejects a relative command', () => {
    expect(() => exportProfile(strictProfile('p'), 'apparmor', { command: ['node'] })).toThrow(/invalid command \["node"\]/)
    expect(() => exportProfile(strictProfile('p'), 'apparmor', { command: [] })).toThrow(/invalid command/)
  })
})
