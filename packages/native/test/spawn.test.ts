import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  CAP_NET_BIND_SERVICE,
  EPERM,
  NR_MKDIR,
  NR_MKDIRAT,
  TEST_GID,
  TEST_UID,
  baseSpec,
  capMask,
  denyFilter,
  runSandbox,
  statusField,
} from './helpers.js'

describe('spawnSandbox identity and capabilities', () => {
  it('runs as the uid with exactly the listed caps', async () => {
    const spec = baseSpec({
      argv: ['sh', '-c', 'id; cat /proc/self/status'],
      capabilities: [CAP_NET_BIND_SERVICE],
      seccomp: { mode: 'enforce', filter: denyFilter([NR_MKDIR, NR_MKDIRAT], EPERM), listener: false, flags: 0 },
    })
    const run = await runSandbox(spec)
    expect(run.stderr).toBe('')
    expect(run.exit.code).toBe(0)
    expect(run.stdout).toContain(`uid=${TEST_UID}`)
    expect(run.stdout).toContain(`gid=${TEST_GID}`)
    const status = run.stdout
    expect(statusField(status, 'Uid')).toBe(`${TEST_UID}\t${TEST_UID}\t${TEST_UID}\t${TEST_UID}`)
    expect(statusField(status, 'Gid')).toBe(`${TEST_GID}\t${TEST_GID}\t${TEST_GID}\t${TEST_GID}`)
    expect(statusField(status, 'Groups')).toBe('')
    const caps = capMask([CAP_NET_BIND_SERVICE])
    expect(statusField(status, 'CapEff')).toBe(caps)
    expect(statusField(status, 'CapPrm')).toBe(caps)
    expect(statusField(status, 'CapInh')).toBe(caps)
    expect(statusField(status, 'CapBnd')).toBe(caps)
    expect(statusField(status, 'CapAmb')).toBe(caps)
    expect(statusField(status, 'NoNewPrivs')).toBe('1')
    expect(statusField(status, 'Seccomp')).toBe('2')
  })

  it('drops every capability when none are listed', async () => {
    const run = await runSandbox(baseSpec({ argv: ['sh', '-c', 'cat /proc/self/status'] }))
    expect(run.exit.code).toBe(0)
    for (const set of ['CapEff', 'CapPrm', 'CapInh', 'CapBnd', 'CapAmb']) {
      expect(statusField(run.stdout, set)).toBe(capMask([]))
    }
  })

  it('keeps supplementary groups when listed', async () => {
    const spec = baseSpec({ groups: [62001, 62002], argv: ['sh', '-c', 'cat /proc/self/status'] })
    const run = await runSandbox(spec)
    expect(statusField(run.stdout, 'Groups')).toBe('62001 62002')
  })

  it('returns the seccomp errno for a denied syscall', async () => {
    const spec = baseSpec({
      argv: ['sh', '-c', 'mkdir /tmp/denied; echo "status=$?"'],
      seccomp: { mode: 'enforce', filter: denyFilter([NR_MKDIR, NR_MKDIRAT], EPERM), listener: false, flags: 0 },
    })
    const run = await runSandbox(spec)
    expect(run.stdout).toContain('status=1')
    expect(run.stderr).toContain('Operation not permitted')
  })
})

describe('spawnSandbox filesystem', () => {
  it('mounts the root read-only', async () => {
    const run = await runSandbox(baseSpec({ argv: ['sh', '-c', 'echo x >> /etc/passwd; echo "status=$?"'] }))
    expect(run.stdout).toContain('status=')
    expect(run.stdout).not.toContain('status=0')
    expect(run.stderr).toMatch(/Read-only file system|Permission denied/)
  })

  it('makes submounts of the root read-only too', async () => {
    const run = await runSandbox(baseSpec({ argv: ['sh', '-c', 'awk \'$5 == "/" || $5 == "/sys" || $5 == "/usr" { print $5, $6 }\' /proc/self/mountinfo'] }))
    const lines = run.stdout.trim().split('\n')
    expect(lines.length).toBeGreaterThanOrEqual(2)
    for (const line of lines) expect(line).toMatch(/ ro(,|$)/)
  })

  it('mounts a writable tmpfs owned by the uid', async () => {
    const spec = baseSpec({
      argv: ['sh', '-c', 'echo data > /srv/state/file && cat /srv/state/file && stat -c "%u:%g %a" /srv/state && grep " /srv/state " /proc/self/mountinfo'],
      mounts: [
        ...baseSpec().mounts,
        { type: 'tmpfs', target: '/srv', sizeBytes: 1 << 20, mode: 0o755, uid: 0, gid: 0, readOnly: false },
        { type: 'tmpfs', target: '/srv/state', sizeBytes: 1 << 20, mode: 0o700, uid: TEST_UID, gid: TEST_GID, readOnly: false },
      ],
    })
    const run = await runSandbox(spec)
    expect(run.stderr).toBe('')
    const [content, owner, mountinfo] = run.stdout.trim().split('\n')
    expect(content).toBe('data')
    expect(owner).toBe(`${TEST_UID}:${TEST_GID} 700`)
    expect(mountinfo).toContain(' - tmpfs ')
    expect(mountinfo).toContain('size=1024k')
  })

  it('shows only the sandbox processes in /proc', async () => {
    const run = await runSandbox(baseSpec({ argv: ['sh', '-c', 'ls /proc | grep -E "^[0-9]+$"; echo "self=$$"'] }))
    const pids = run.stdout.trim().split('\n').filter((line) => /^\d+$/.test(line)).map(Number)
    expect(run.stdout).toContain('self=1')
    expect(pids).toContain(1)
    // sh, plus the ls and grep of the pipeline.
    expect(pids.length).toBeLessThanOrEqual(3)
    expect(Math.max(...pids)).toBeLessThan(10)
  })

  it('builds a minimal /dev', async () => {
    const run = await runSandbox(baseSpec({ argv: ['sh', '-c', 'ls -A /dev | sort | tr "\\n" " "; echo x > /dev/null && echo null-ok'] }))
    expect(run.stdout).toContain('fd full null ptmx pts random shm stderr stdin stdout tty urandom zero')
    expect(run.stdout).toContain('null-ok')
  })

  it('masks a directory and a file', async () => {
    const spec = baseSpec({
      argv: ['sh', '-c', 'ls -A /etc/apt | wc -l; wc -c < /etc/hostname'],
      mounts: [...baseSpec().mounts, { type: 'mask', target: '/etc/apt' }, { type: 'mask', target: '/etc/hostname' }, { type: 'mask', target: '/nonexistent' }],
    })
    const run = await runSandbox(spec)
    expect(run.stderr).toBe('')
    expect(run.stdout.trim().split('\n')).toEqual(['0', '0'])
  })
})

describe('spawnSandbox bind mounts', () => {
  it('binds a host folder writable', async () => {
    const host = mkdtempSync(join(tmpdir(), 'blackhole-bind-'))
    chownSync(host, TEST_UID, TEST_GID)
    try {
      const spec = baseSpec({
        argv: ['sh', '-c', 'echo kept > /tmp/data/file && awk \'$5 == "/tmp/data" { print $6 }\' /proc/self/mountinfo'],
        mounts: [...baseSpec().mounts, { type: 'bind', source: host, target: '/tmp/data', readOnly: false, recursive: false }],
      })
      const run = await runSandbox(spec)
      expect(run.stderr).toBe('')
      expect(readFileSync(join(host, 'file'), 'utf8')).toBe('kept\n')
      expect(run.stdout.trim()).toMatch(/^rw(,|$)/)
    } finally {
      rmSync(host, { recursive: true, force: true })
    }
  })

  it('binds a host folder read-only', async () => {
    const host = mkdtempSync(join(tmpdir(), 'blackhole-bind-'))
    try {
      const spec = baseSpec({
        uid: 0,
        gid: 0,
        argv: ['sh', '-c', 'touch /tmp/data/file; echo "status=$?"'],
        mounts: [...baseSpec().mounts, { type: 'bind', source: host, target: '/tmp/data', readOnly: true, recursive: false }],
      })
      const run = await runSandbox(spec)
      expect(run.stdout).toContain('status=1')
      expect(run.stderr).toContain('Read-only file system')
    } finally {
      rmSync(host, { recursive: true, force: true })
    }
  })

  it('remounts a path read-only in place', async () => {
    const spec = baseSpec({
      argv: ['sh', '-c', 'awk \'$5 == "/proc/sys" { print $6 }\' /proc/self/mountinfo'],
      mounts: [...baseSpec().mounts, { type: 'readonly', target: '/proc/sys' }, { type: 'readonly', target: '/no/such/path' }],
    })
    const run = await runSandbox(spec)
    expect(run.stderr).toBe('')
    expect(run.stdout.trim()).toMatch(/^ro(,|$)/)
  })
})

describe('spawnSandbox process settings', () => {
  it('sets the hostname', async () => {
    const run = await runSandbox(baseSpec({ hostname: 'identity-box', argv: ['sh', '-c', 'cat /proc/sys/kernel/hostname'] }))
    expect(run.stdout.trim()).toBe('identity-box')
  })

  it('applies rlimits', async () => {
    const spec = baseSpec({
      argv: ['sh', '-c', 'cat /proc/self/limits'],
      rlimits: [
        { resource: 'NOFILE', soft: 64, hard: 128 },
        { resource: 'CORE', soft: 0, hard: 0 },
        { resource: 'NPROC', soft: 50, hard: 50 },
        { resource: 'AS', soft: null, hard: null },
      ],
    })
    const run = await runSandbox(spec)
    expect(run.stdout).toMatch(/Max open files\s+64\s+128\s+files/)
    expect(run.stdout).toMatch(/Max core file size\s+0\s+0\s+bytes/)
    expect(run.stdout).toMatch(/Max processes\s+50\s+50\s+processes/)
    expect(run.stdout).toMatch(/Max address space\s+unlimited\s+unlimited\s+bytes/)
  })

  it('passes only stdio and listen descriptors', async () => {
    const { openSync, closeSync } = await import('node:fs')
    const listenFd = openSync('/dev/null', 'r')
    try {
      const spec = baseSpec({
        argv: ['sh', '-c', 'ls /proc/self/fd | sort -n | tr "\\n" " "; echo; env | grep ^LISTEN_ | sort'],
        listenFds: [{ fd: listenFd, name: 'http' }],
      })
      const run = await runSandbox(spec)
      const [fds, ...env] = run.stdout.trim().split('\n')
      // 0-2 stdio, 3 the listener, and one more: the descriptor ls opened on /proc/self/fd.
      expect(fds?.trim()).toBe('0 1 2 3 4')
      expect(env).toEqual(['LISTEN_FDNAMES=http', 'LISTEN_FDS=1', 'LISTEN_PID=1'])
    } finally {
      closeSync(listenFd)
    }
  })

  it('changes to cwd and passes exactly the env', async () => {
    const run = await runSandbox(baseSpec({ cwd: '/etc', env: ['ONLY=1'], argv: ['sh', '-c', 'pwd; /usr/bin/env'] }))
    expect(run.stdout.trim().split('\n')).toEqual(['/etc', 'ONLY=1', 'PWD=/etc'])
  })
})
