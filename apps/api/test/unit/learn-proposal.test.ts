import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { collectActivity, type ActivityRecord } from '../../src/learn/activity.js'
import { buildProposal } from '../../src/learn/proposal.js'
import { unifiedDiff } from '../../src/learn/unified-diff.js'
import { validateProfileYaml } from '../../src/server/routes/profile-yaml.js'

const BASE = `web:
  # the web front end
  enforce_mode: enforce
  syscalls:
    denied:
      - uname
      - name: getcpu
        errno: EACCES
  filesystem:
    writable_paths:
      - /var/log/web
    denied_paths:
      - /etc/shadow
  network:
    allowed_ports:
      - 8080
`

function profileOf(yaml: string) {
  const result = validateProfileYaml(yaml, 'web')
  if (!result.ok) throw new Error(result.errors.map((error) => error.text).join('\n'))
  return result.profile
}

function violation(syscall: string): ActivityRecord {
  return { type: 'SYSCALL_VIOLATION', metadata: { syscall, args: ['0', '0', '0', '0', '0', '0'], action: 'continue' } }
}

describe('collectActivity', () => {
  it('counts violations per syscall', () => {
    const activity = collectActivity([violation('uname'), violation('uname'), violation('ptrace')])
    expect(activity.syscalls).toEqual({ ptrace: 1, uname: 2 })
    expect(activity.records).toBe(3)
  })

  it('reads ports from bind, connect, listeners and Landlock', () => {
    const activity = collectActivity([
      { type: 'SYSCALL_OBSERVED', metadata: { syscall: 'bind', decoded: { family: 'AF_INET', address: '127.0.0.1', port: 9001 } } },
      { type: 'SYSCALL_OBSERVED', metadata: { syscall: 'connect', decoded: { family: 'AF_INET6', address: '::1', port: 5432 } } },
      { type: 'SYSCALL_OBSERVED', metadata: { syscall: 'connect', decoded: { family: 'AF_UNIX', address: '/run/x.sock' } } },
      { type: 'SYSCALL_OBSERVED', metadata: { syscall: 'bind', decoded: { family: 'AF_INET', port: 0 } } },
      { type: 'NETWORK_LISTEN', metadata: { protocol: 'tcp', address: '0.0.0.0', port: 7000 } },
      { type: 'NETWORK_LISTEN', metadata: { protocol: 'udp', address: '0.0.0.0', port: 5353 } },
      { type: 'LANDLOCK_DENIED', metadata: { path: null, access: ['net.connect_tcp'], daddr: '127.0.0.1', dest: '6379' } },
    ])
    expect(activity.ports).toEqual([5432, 6379, 7000, 9001])
  })

  it('reads paths from Landlock denials and execve', () => {
    const activity = collectActivity([
      { type: 'LANDLOCK_DENIED', metadata: { path: '/srv/cache', access: ['fs.make_reg'] } },
      { type: 'LANDLOCK_DENIED', metadata: { path: '/opt/app/state.json', access: ['fs.write_file', 'fs.truncate'] } },
      { type: 'SYSCALL_OBSERVED', metadata: { syscall: 'execve', decoded: { path: '/usr/bin/env', argv: ['env'] } } },
      { type: 'SYSCALL_OBSERVED', metadata: { syscall: 'openat', args: ['4294967196', '0', '577', '0', '0', '0'], decoded: { path: '/tmp/x' } } },
    ])
    expect(activity.paths).toContainEqual({ path: '/srv/cache', access: 'create', denied: true, source: 'LANDLOCK_DENIED' })
    expect(activity.paths).toContainEqual({ path: '/opt/app/state.json', access: 'write', denied: true, source: 'LANDLOCK_DENIED' })
    expect(activity.paths).toContainEqual({ path: '/usr/bin/env', access: 'execute', denied: false, source: 'SYSCALL_OBSERVED' })
    // 577 = O_WRONLY | O_CREAT | O_TRUNC
    expect(activity.paths).toContainEqual({ path: '/tmp/x', access: 'create', denied: false, source: 'SYSCALL_OBSERVED' })
  })
})

describe('buildProposal', () => {
  it('lifts a profile denial and adds an opt-in syscall', () => {
    const proposal = buildProposal({
      profileName: 'web', baseYaml: BASE, profile: profileOf(BASE),
      activity: collectActivity([violation('uname'), violation('ptrace')]),
    })
    expect(proposal.additions.undeniedSyscalls).toEqual(['uname'])
    expect(proposal.additions.allowedSyscalls).toEqual(['ptrace'])
    expect(proposal.errors).toEqual([])
    const proposed = profileOf(proposal.yaml)
    expect(proposed.syscalls.denied.map((rule) => rule.name)).toEqual(['getcpu'])
    expect(proposed.syscalls.allowed.map((rule) => rule.name)).toEqual(['ptrace'])
    expect(proposal.yaml).toContain('# the web front end')
  })

  it('never proposes a forbidden syscall', () => {
    const proposal = buildProposal({
      profileName: 'web', baseYaml: BASE, profile: profileOf(BASE),
      activity: collectActivity([violation('mount'), violation('bpf'), violation('unshare')]),
    })
    expect(proposal.unchanged).toBe(true)
    expect(proposal.yaml).toBe(BASE)
    expect(proposal.diff).toBe('')
    expect(proposal.notProposed.map((item) => item.value)).toEqual(['bpf', 'mount', 'unshare'])
    for (const item of proposal.notProposed) expect(item.reason).toContain('would need a policy exception, not proposed')
  })

  it('adds new ports but not known ones', () => {
    const proposal = buildProposal({
      profileName: 'web', baseYaml: BASE, profile: profileOf(BASE),
      activity: { syscalls: {}, paths: [], ports: [8080, 9001], records: 2 },
    })
    expect(proposal.additions.allowedPorts).toEqual([9001])
    expect(profileOf(proposal.yaml).network.allowedPorts).toEqual([8080, 9001])
  })

  it('proposes writable folders and file access', () => {
    const proposal = buildProposal({
      profileName: 'web', baseYaml: BASE, profile: profileOf(BASE),
      activity: {
        syscalls: {}, ports: [], records: 5,
        paths: [
          { path: '/srv/web/cache', access: 'create', denied: true, source: 'LANDLOCK_DENIED' },
          { path: '/srv/web/cache/a', access: 'create', denied: true, source: 'LANDLOCK_DENIED' },
          { path: '/var/log/web/access.log', access: 'write', denied: true, source: 'LANDLOCK_DENIED' },
          { path: '/dev/kvm', access: 'write', denied: true, source: 'LANDLOCK_DENIED' },
          { path: '/etc/hosts', access: 'write', denied: true, source: 'LANDLOCK_DENIED' },
          { path: '/etc/shadow', access: 'read', denied: true, source: 'LANDLOCK_DENIED' },
          { path: '/usr/bin/env', access: 'execute', denied: false, source: 'SYSCALL_OBSERVED' },
        ],
      },
    })
    expect(proposal.additions.writablePaths).toEqual(['/srv/web/cache'])
    expect(proposal.additions.fileAccess).toEqual([{ path: '/dev/kvm', mode: 'w' }])
    expect(proposal.notProposed.map((item) => item.value).sort()).toEqual(['/etc/hosts', '/etc/shadow'])
    expect(proposal.errors).toEqual([])
    const proposed = profileOf(proposal.yaml)
    expect(proposed.filesystem.writablePaths.map((entry) => entry.path)).toEqual(['/var/log/web', '/srv/web/cache'])
    expect(proposed.filesystem.fileAccess).toEqual([{ path: '/dev/kvm', mode: 'w' }])
  })

  it('diffs like diff -u', () => {
    const proposal = buildProposal({
      profileName: 'web', baseYaml: BASE, profile: profileOf(BASE),
      activity: collectActivity([violation('uname'), violation('ptrace')]),
    })
    const dir = mkdtempSync(join(tmpdir(), 'learn-diff-'))
    try {
      writeFileSync(join(dir, 'a'), proposal.baseYaml)
      writeFileSync(join(dir, 'b'), proposal.yaml)
      let expected = ''
      try {
        execFileSync('diff', ['-u', '--label', 'web (current)', '--label', 'web (proposed)', 'a', 'b'], { cwd: dir, encoding: 'utf8' })
      } catch (error) {
        expected = (error as { stdout: string }).stdout
      }
      expect(proposal.diff).toBe(expected)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('unifiedDiff', () => {
  it('returns nothing for equal texts', () => {
    expect(unifiedDiff('a\n', 'a\n', 'x', 'y')).toBe('')
  })

  it('splits distant changes into hunks', () => {
    const old = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join('\n') + '\n'
    const changed = old.replace('line 2\n', 'line two\n').replace('line 18\n', 'line 18\nline 18b\n')
    const diff = unifiedDiff(old, changed, 'old', 'new')
    expect(diff.split('\n').filter((line) => line.startsWith('@@'))).toEqual(['@@ -1,5 +1,5 @@', '@@ -16,5 +16,6 @@'])
  })
})
