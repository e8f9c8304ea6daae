import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { exportProfile } from '../src/export/index.js'
import { systemdEnvironment, systemdWord } from '../src/export/systemd.js'
import type { Profile } from '../src/profile.js'
import { yamlExampleProfiles, yamlFeatureProfiles } from './fixtures/export/parsed.js'
import { everyFeatureProfile, exampleProfiles, identityProfile, strictProfile, withChanges, workerProfile } from './fixtures/export/profiles.js'

const workDir = mkdtempSync(join(tmpdir(), 'blackhole-systemd-'))
afterAll(() => rmSync(workDir, { recursive: true, force: true }))

/**
 * Writes a unit with ExecStart=/bin/true plus the drop-in and runs
 * `systemd-analyze verify` on it. verify exits 0 even when it ignores a
 * directive, so every line it prints counts as a complaint.
 */
function verify(dropIn: string, label: string): string[] {
  const dir = join(workDir, label)
  const unit = `bh-${label}.service`
  mkdirSync(join(dir, `${unit}.d`), { recursive: true })
  writeFileSync(join(dir, unit), '[Unit]\nDescription=export test\n\n[Service]\nExecStart=/bin/true\n')
  writeFileSync(join(dir, `${unit}.d`, 'blackhole.conf'), dropIn)
  // A relative unit path: given an absolute one, systemd 252 skips the drop-in folder.
  const result = spawnSync('systemd-analyze', ['verify', '--man=no', `./${unit}`], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, SYSTEMD_LOG_COLOR: '0' },
    timeout: 30_000,
  })
  if (result.error) throw result.error
  const output = `${result.stdout}\n${result.stderr}`
  return output.split('\n').filter((line) => line.trim() !== '')
}

// Syscalls newer than libseccomp 2.5.4, which systemd 252 resolves names
// with here: systemd skips such a name with a log line.
const NEWER_SYSCALLS = ['open_tree_attr']
const isNewerSyscall = (line: string) => NEWER_SYSCALLS.some((name) => line.endsWith(`Failed to parse system call, ignoring: ${name}`))

const cases: [string, Profile][] = [
  ...exampleProfiles.map((profile): [string, Profile] => [profile.name, profile]),
  ...[...yamlExampleProfiles, ...yamlFeatureProfiles].map((profile): [string, Profile] => [`yaml-${profile.name}`, profile]),
  ['every-feature', withChanges(everyFeatureProfile, { user: 'svc' })],
  ['strict', strictProfile('strict')],
  ['host', withChanges(strictProfile('host'), { network: { ...strictProfile('x').network, mode: 'host' } })],
  ['disabled', withChanges(strictProfile('off'), { enforceMode: 'disabled' })],
]

describe('systemd export', () => {
  for (const [label, profile] of cases) {
    it(`passes systemd-analyze verify for ${label}`, () => {
      const { text } = exportProfile(profile, 'systemd')
      const complaints = verify(text, label).filter((line) => !isNewerSyscall(line))
      expect(complaints).toEqual([])
    })
  }

  it('verify check catches a bad directive', () => {
    // Guards the check above: a misspelt key and a bad value must be reported.
    const { text } = exportProfile(identityProfile, 'systemd')
    const complaints = verify(text + 'ProtectSystems=strict\nLimitNOFILE=lots\nSystemCallFilter=~no_such_call\n', 'broken')
      .filter((line) => !isNewerSyscall(line))
    expect(complaints.some((line) => line.includes('ProtectSystems'))).toBe(true)
    expect(complaints.some((line) => line.includes('lots'))).toBe(true)
    expect(complaints.some((line) => line.includes('no_such_call'))).toBe(true)
  })

  it('writes identity and capabilities', () => {
    const dynamic = exportProfile(identityProfile, 'systemd').text
    expect(dynamic).toContain('\nDynamicUser=yes\n')
    expect(dynamic).toContain('\nUser=blackhole-identity\n')
    expect(dynamic).toContain('\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\n')
    expect(dynamic).toContain('\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n')
    expect(dynamic).toContain('\nNoNewPrivileges=yes\n')
    expect(dynamic).toContain('\nUMask=0077\n')
    const named = exportProfile(workerProfile, 'systemd').text
    expect(named).not.toContain('DynamicUser')
    expect(named).toContain('\nUser=worker\nGroup=worker\n')
    expect(named).toContain('\nCapabilityBoundingSet=\n')
    expect(named).not.toContain('AmbientCapabilities')
  })

  it('keeps protections that drop granted caps off', () => {
    const { text } = exportProfile(everyFeatureProfile, 'systemd')
    expect(text).not.toMatch(/^ProtectClock=yes$/m)
    expect(text).toContain('# ProtectClock=yes is off: it would drop CAP_SYS_TIME')
    expect(text).toMatch(/^ProtectKernelModules=yes$/m)
    expect(text).toMatch(/^PrivateDevices=yes$/m)
    expect(text).toContain('# MemoryDenyWriteExecute=yes is off')
  })

  it('maps writable paths to managed directories', () => {
    const { text } = exportProfile(everyFeatureProfile, 'systemd')
    expect(text).toMatch(/^ProtectSystem=strict$/m)
    expect(text).toMatch(/^PrivateTmp=yes$/m)
    expect(text).toMatch(/^RuntimeDirectory=every$/m)
    expect(text).toMatch(/^StateDirectory=every$/m)
    expect(text).toMatch(/^ReadWritePaths=-"\/srv\/with space"$/m)
    const parsed = exportProfile(yamlFeatureProfiles[0]!, 'systemd').text
    expect(parsed).toMatch(/^RuntimeDirectory=gateway$/m)
    expect(parsed).toMatch(/^CacheDirectory=gateway$/m)
    expect(parsed).toMatch(/^StateDirectory=gateway$/m)
    expect(text).toMatch(/^ReadWritePaths=-\/data\/every$/m)
    expect(text).toMatch(/^ReadOnlyPaths=-\/etc\/every$/m)
    expect(text).toMatch(/^ExecPaths=-\/opt\/tool$/m)
    expect(text).toMatch(/^InaccessiblePaths=-\/etc\/shadow$/m)
    expect(text).toMatch(/^InaccessiblePaths=-"\/srv\/with space\/secret"$/m)
    expect(text).not.toMatch(/^ReadWritePaths=-\/tmp$/m)
  })

  it('writes network rules per mode', () => {
    const veth = exportProfile(identityProfile, 'systemd').text
    expect(veth).toMatch(/^IPAddressDeny=any$/m)
    expect(veth).toMatch(/^IPAddressAllow=localhost$/m)
    expect(veth).toMatch(/^IPAddressAllow=10\.20\.0\.0\/16$/m)
    expect(veth).toMatch(/^RestrictAddressFamilies=AF_INET AF_INET6 AF_NETLINK$/m)
    expect(veth).toMatch(/^SocketBindAllow=tcp:443$/m)
    expect(veth).toMatch(/^SocketBindAllow=tcp:5432$/m)
    expect(veth).toMatch(/^SocketBindDeny=any$/m)
    expect(veth).not.toContain('PrivateNetwork')

    const none = exportProfile(strictProfile('quiet'), 'systemd').text
    expect(none).toMatch(/^PrivateNetwork=yes$/m)
    expect(none).toMatch(/^IPAddressDeny=any$/m)
    expect(none).toMatch(/^RestrictAddressFamilies=AF_NETLINK$/m)

    const local = exportProfile(workerProfile, 'systemd').text
    expect(local).toMatch(/^PrivateNetwork=yes$/m)
    expect(local).not.toContain('IPAddressDeny')
    expect(local).toMatch(/^RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK$/m)
  })

  it('writes the syscall filter', () => {
    const { text } = exportProfile(everyFeatureProfile, 'systemd')
    expect(text).toMatch(/^SystemCallFilter=@system-service$/m)
    expect(text).toMatch(/^SystemCallFilter=ptrace$/m)
    const deny = text.split('\n').find((line) => line.startsWith('SystemCallFilter=~'))
    expect(deny).toBeDefined()
    const words = deny!.slice('SystemCallFilter=~'.length).split(' ')
    expect(words).toContain('chroot:EACCES')
    expect(words).toContain('uselib:ENOSYS')
    expect(words).toContain('mknod')
    expect(words).toContain('bpf')
    expect(words).not.toContain('ptrace')
    expect(text).toMatch(/^SystemCallErrorNumber=EPERM$/m)
    expect(text).toMatch(/^SystemCallArchitectures=native$/m)
  })

  it('logs instead of filtering when permissive', () => {
    const { text } = exportProfile(workerProfile, 'systemd')
    expect(text).not.toContain('SystemCallFilter')
    expect(text).toMatch(/^SystemCallLog=.*\bkill\b/m)
    expect(text).not.toMatch(/^SystemCallLog=.*\bpersonality\b/m)
  })

  it('writes limits', () => {
    const { text } = exportProfile(identityProfile, 'systemd')
    expect(text).toMatch(/^LimitNOFILE=1024$/m)
    expect(text).toMatch(/^LimitNPROC=64$/m)
    expect(text).toMatch(/^TasksMax=64$/m)
    expect(text).toMatch(/^MemoryMax=536870912$/m)
    expect(text).toMatch(/^CPUQuota=100%$/m)
  })

  it('quotes environment values', () => {
    const { text } = exportProfile(everyFeatureProfile, 'systemd')
    expect(text).toContain('\nEnvironment="GREETING=say \\"hi\\" 100%% \\\\ now"\n')
    expect(text).toContain('\nEnvironment="EMPTY="\n')
    expect(text).toMatch(/^PassEnvironment=TZ$/m)
    expect(systemdEnvironment('A', 'line\nbreak')).toBe('Environment="A=line\\nbreak"')
    expect(systemdWord('/plain')).toBe('/plain')
    expect(systemdWord('/50%')).toBe('/50%%')
  })

  it('warns about what it cannot express', () => {
    const { warnings } = exportProfile(everyFeatureProfile, 'systemd')
    expect(warnings.some((w) => w.startsWith('network.allowed_ports [80, 8443]'))).toBe(true)
    expect(warnings.some((w) => w.startsWith('network.listen control'))).toBe(true)
    expect(warnings.some((w) => w.startsWith('filesystem.writable_paths /srv/with space'))).toBe(true)
    expect(warnings.some((w) => w.startsWith('filesystem.file_access'))).toBe(true)
  })
})
