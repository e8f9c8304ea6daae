import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, test } from 'vitest'
import {
  compileLandlock,
  landlockFsRights,
  LANDLOCK_ACCESS_FS as FS,
  parseConfig,
  type FilesystemView,
  type Profile,
} from '@blackhole/policy'

function profileFrom(body: string): Profile {
  const result = parseConfig(`security_profiles:\n  p:\n${body.replace(/^/gm, '    ')}\n`, 'test.yaml')
  if (!result.ok) throw new Error(JSON.stringify(result.errors))
  return result.config.profiles['p'] as Profile
}

/** Builds a fake host tree: directories map to their entries, and any other listed entry is a file. */
function fakeFs(tree: Record<string, string[]>, links: Record<string, string> = {}): FilesystemView {
  const realpath = (path: string) => {
    for (const [link, target] of Object.entries(links)) {
      if (path === link || path.startsWith(`${link}/`)) return target + path.slice(link.length)
    }
    return path
  }
  const exists = (path: string) => path in tree || Object.entries(tree).some(([dir, entries]) => entries.some((e) => (dir === '/' ? `/${e}` : `${dir}/${e}`) === path))
  return {
    kind: (path) => (realpath(path) in tree ? 'dir' : exists(realpath(path)) ? 'file' : 'missing'),
    list: (path) => tree[realpath(path)] ?? [],
    realpath,
  }
}

const READ = FS.READ_FILE | FS.READ_DIR | FS.EXECUTE
const empty: FilesystemView = { kind: () => 'missing', list: () => [], realpath: (p) => p }

describe('landlock masks per ABI', () => {
  test('filesystem rights by ABI', () => {
    expect(landlockFsRights(0)).toBe(0)
    expect(landlockFsRights(1)).toBe(0x1fff)
    expect(landlockFsRights(2)).toBe(0x3fff)
    expect(landlockFsRights(3)).toBe(0x7fff)
    expect(landlockFsRights(4)).toBe(0x7fff)
    expect(landlockFsRights(5)).toBe(0xffff)
    expect(landlockFsRights(7)).toBe(0xffff)
  })

  test('host-mode profile on each ABI', () => {
    const profile = profileFrom('network: {mode: host}')
    const expected = [
      { abi: 1, minAbi: 1, fs: 0x1fff, scoped: 0, flags: 0 },
      { abi: 2, minAbi: 2, fs: 0x3fff, scoped: 0, flags: 0 },
      { abi: 3, minAbi: 3, fs: 0x7fff, scoped: 0, flags: 0 },
      { abi: 5, minAbi: 5, fs: 0xffff, scoped: 0, flags: 0 },
      { abi: 6, minAbi: 6, fs: 0xffff, scoped: 3, flags: 0 },
      { abi: 7, minAbi: 7, fs: 0xffff, scoped: 3, flags: 2 },
      { abi: 9, minAbi: 7, fs: 0xffff, scoped: 3, flags: 2 },
    ]
    for (const row of expected) {
      const { spec } = compileLandlock(profile, row.abi, empty)
      expect(spec?.minAbi, `abi ${row.abi}`).toBe(row.minAbi)
      expect(spec?.handledAccessFs, `abi ${row.abi}`).toBe(row.fs)
      expect(spec?.handledAccessNet, `abi ${row.abi}`).toBe(0)
      expect(spec?.scoped, `abi ${row.abi}`).toBe(row.scoped)
      expect(spec?.restrictFlags, `abi ${row.abi}`).toBe(row.flags)
    }
  })

  test('rules trimmed to handled rights', () => {
    const { spec } = compileLandlock(profileFrom('network: {mode: host}\nfilesystem: {writable_paths: [/srv/data]}'), 1, empty)
    expect(spec?.pathRules).toContainEqual({ path: '/srv/data', access: 0x1fff })
    expect(spec?.pathRules).toContainEqual({ path: '/dev', access: READ | FS.WRITE_FILE })
  })
})

describe('landlock ABI too old', () => {
  test('enforce fails naming the feature', () => {
    expect(() => compileLandlock(profileFrom('network: {allowed_ports: [8080]}'), 3, empty)).toThrow('landlock: TCP port rules need Landlock ABI 4, this kernel has 3')
  })

  test('no landlock at all fails enforce', () => {
    expect(() => compileLandlock(profileFrom('{}'), 0, empty)).toThrow('landlock: filesystem rules need Landlock ABI 1, this kernel has 0')
  })

  test('permissive drops the rules with a warning', () => {
    const { spec, warnings } = compileLandlock(profileFrom('enforce_mode: permissive\nnetwork: {allowed_ports: [8080]}'), 3, empty)
    expect(spec?.handledAccessNet).toBe(0)
    expect(spec?.netRules).toEqual([])
    expect(spec?.minAbi).toBe(3)
    expect(warnings).toEqual(['landlock: TCP port rules need Landlock ABI 4, this kernel has 3; permissive mode continues without them'])
  })

  test('disabled has no ruleset', () => {
    expect(compileLandlock(profileFrom('enforce_mode: disabled'), 7, empty).spec).toBeNull()
  })
})

describe('landlock rules', () => {
  test('ports become bind and connect rules', () => {
    const { spec } = compileLandlock(profileFrom('network: {allowed_ports: [443, 8080]}'), 4, empty)
    expect(spec?.minAbi).toBe(4)
    expect(spec?.handledAccessNet).toBe(3)
    expect(spec?.netRules).toEqual([{ port: 443, access: 3 }, { port: 8080, access: 3 }])
  })

  test('file access modes', () => {
    const fs = fakeFs({ '/': ['etc', 'srv'], '/etc': ['app.conf'], '/srv': ['in'], '/srv/in': [] })
    const profile = profileFrom('network: {mode: host}\nfilesystem:\n  file_access: [{path: /srv/in, mode: rw}, {path: /etc/app.conf, mode: rwx}]')
    const { spec } = compileLandlock(profile, 7, fs)
    const rule = (path: string) => spec?.pathRules.find((r) => r.path === path)?.access
    expect(rule('/srv/in')).toBe(FS.READ_FILE | FS.READ_DIR | FS.WRITE_FILE | FS.TRUNCATE | FS.REFER | 0x1ff0)
    expect(rule('/etc/app.conf')).toBe(FS.READ_FILE | FS.WRITE_FILE | FS.TRUNCATE | FS.EXECUTE)
  })

  test('denied path grants siblings only', () => {
    const fs = fakeFs({ '/': ['bin', 'etc', 'usr'], '/etc': ['hosts', 'secret', 'ssl'], '/etc/ssl': [], '/bin': [], '/usr': [] })
    const { spec } = compileLandlock(profileFrom('network: {mode: host}\nfilesystem: {denied_paths: [/etc/secret]}'), 7, fs)
    const paths = spec?.pathRules.map((r) => r.path)
    expect(paths).toEqual(['/bin', '/etc/hosts', '/etc/ssl', '/usr', '/dev', '/dev/shm'])
    expect(spec?.pathRules[0]).toEqual({ path: '/bin', access: READ })
    expect(spec?.pathRules[1]).toEqual({ path: '/etc/hosts', access: FS.READ_FILE | FS.EXECUTE })
  })

  test('symlink into denied tree not granted', () => {
    const fs = fakeFs({ '/': ['lib', 'usr'], '/usr': ['lib'], '/usr/lib': ['private', 'shared'], '/usr/lib/private': [], '/usr/lib/shared': [] }, { '/lib': '/usr/lib' })
    const { spec } = compileLandlock(profileFrom('network: {mode: host}\nfilesystem: {denied_paths: [/lib/private]}'), 7, fs)
    const paths = spec?.pathRules.map((r) => r.path)
    expect(paths).not.toContain('/lib')
    expect(paths).not.toContain('/usr')
    expect(paths).not.toContain('/usr/lib')
    expect(paths).toContain('/usr/lib/shared')
  })
})

// The compiled ruleset applied by the running kernel in a python3 child;
// Landlock needs only no_new_privs, not root.
describe.skipIf(process.arch !== 'x64' || process.platform !== 'linux')('real kernel', () => {
  const dir = mkdtempSync(join(tmpdir(), 'policy-landlock-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  for (const name of ['public', 'secret']) writeFileSync(join(dir, name), 'data')
  mkdirSync(join(dir, 'out'))
  // Validation rejects denied paths under /tmp, which is private in a real
  // sandbox; this test runs on the host, so it sets the path directly.
  const parsed = profileFrom(`network: {allowed_ports: [47811]}\nfilesystem: {writable_paths: [${dir}/out]}`)
  const profile: Profile = { ...parsed, filesystem: { ...parsed.filesystem, deniedPaths: [`${dir}/secret`] } }
  const { spec } = compileLandlock(profile, 7)
  const probes = [
    { label: 'public', op: 'read', path: join(dir, 'public') },
    { label: 'secret', op: 'read', path: join(dir, 'secret') },
    { label: 'etc', op: 'read', path: '/etc/hostname' },
    { label: 'write-public', op: 'write', path: join(dir, 'public') },
    { label: 'write-out', op: 'write', path: join(dir, 'out', 'log') },
    { label: 'bind-allowed', op: 'bind', port: 47811 },
    { label: 'bind-other', op: 'bind', port: 47812 },
  ]
  const helper = fileURLToPath(new URL('./fixtures/run-landlock.py', import.meta.url))
  const child = spawnSync('python3', [helper, JSON.stringify(probes)], { input: JSON.stringify(spec), encoding: 'utf8', timeout: 10_000 })
  const results = child.status === 0 ? (JSON.parse(child.stdout) as Record<string, string>) : {}

  test('kernel accepts the ruleset', () => {
    expect(child.stderr).toBe('')
    expect(child.status).toBe(0)
  })

  test('reads outside denied paths work', () => {
    expect(results['public']).toBe('ok')
    expect(results['etc']).toBe('ok')
  })

  test('denied path is unreadable', () => {
    expect(results['secret']).toBe('EACCES')
  })

  test('writes only in writable paths', () => {
    expect(results['write-public']).toBe('EACCES')
    expect(results['write-out']).toBe('ok')
  })

  test('bind only on allowed ports', () => {
    expect(results['bind-allowed']).toBe('ok')
    expect(results['bind-other']).toBe('EACCES')
  })
})
