import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, test } from 'vitest'
import {
  AUDIT_ARCH,
  compileSeccomp,
  DEFAULT_DENIED_SYSCALLS,
  describeReturn,
  LAUNCHER_SYSCALLS,
  parseConfig,
  runFilter,
  SECCOMP_RET,
  SYSCALLS_AARCH64,
  SYSCALLS_X86_64,
  WATCHED_SYSCALLS,
  type Profile,
} from '@blackhole/policy'

function profileFrom(body: string): Profile {
  const result = parseConfig(`security_profiles:\n  p:\n${body.replace(/^/gm, '    ')}\n`, 'test.yaml')
  if (!result.ok) throw new Error(JSON.stringify(result.errors))
  const profile = result.config.profiles['p']
  if (profile === undefined) throw new Error('profile p missing')
  return profile
}

const x86 = (name: string): number => {
  const nr = SYSCALLS_X86_64[name]
  if (nr === undefined) throw new Error(`no x86_64 syscall ${name}`)
  return nr
}

const ALLOW = SECCOMP_RET.ALLOW
const NOTIF = SECCOMP_RET.USER_NOTIF
const ENOSYS = SECCOMP_RET.ERRNO | 38
const EPERM = SECCOMP_RET.ERRNO | 1

describe('x86_64 enforce filter', () => {
  const profile = profileFrom('syscalls:\n  denied: [{name: chmod, errno: EACCES}, fchmod]')
  const compiled = compileSeccomp(profile, 'x86_64')
  const filter = compiled.filter ?? ''
  const run = (nr: number, args: (bigint | number)[] = []) => runFilter(filter, { nr, arch: AUDIT_ARCH.X86_64, args })

  test('filter fits kernel limit', () => {
    expect(compiled.instructionCount).toBeGreaterThan(10)
    expect(compiled.instructionCount).toBeLessThan(4096)
    expect(compiled.listener).toBe(true)
    expect(compiled.mode).toBe('enforce')
  })

  test('allowed syscalls return ALLOW', () => {
    for (const name of ['read', 'write', 'openat', 'mmap', 'exit_group', 'futex', 'epoll_wait', 'file_setattr']) {
      expect(run(x86(name)), name).toBe(ALLOW)
    }
  })

  test('default deny is USER_NOTIF with EPERM', () => {
    expect(run(x86('mount'))).toBe(NOTIF)
    expect(compiled.notifyActions[x86('mount')]).toEqual({ action: 'errno', syscall: 'mount', errno: 1, errnoName: 'EPERM', reason: 'denied' })
    expect(run(x86('unshare'))).toBe(NOTIF)
    expect(run(x86('bpf'))).toBe(NOTIF)
    expect(run(x86('io_uring_setup'))).toBe(NOTIF)
  })

  test('profile denial carries its errno', () => {
    expect(run(x86('chmod'))).toBe(NOTIF)
    expect(compiled.notifyActions[x86('chmod')]).toEqual({ action: 'errno', syscall: 'chmod', errno: 13, errnoName: 'EACCES', reason: 'denied' })
    expect(compiled.notifyActions[x86('fchmod')]).toMatchObject({ action: 'errno', errno: 1 })
  })

  test('watched syscalls notify and continue', () => {
    for (const name of WATCHED_SYSCALLS) {
      expect(run(x86(name)), name).toBe(NOTIF)
      expect(compiled.notifyActions[x86(name)]).toEqual({ action: 'continue', syscall: name, reason: 'watched' })
    }
  })

  test('unknown numbers return ENOSYS', () => {
    expect(run(400)).toBe(ENOSYS)
    expect(run(470)).toBe(ENOSYS)
    expect(run(100000)).toBe(ENOSYS)
    expect(run(-1)).toBe(ENOSYS)
  })

  test('clone3 returns ENOSYS', () => {
    expect(run(x86('clone3'))).toBe(ENOSYS)
  })

  test('clone namespace flags denied', () => {
    const CLONE_NEWUSER = 0x10000000
    const CLONE_NEWNET = 0x40000000
    const threadFlags = 0x003d0f00
    expect(run(x86('clone'), [CLONE_NEWUSER])).toBe(EPERM)
    expect(run(x86('clone'), [CLONE_NEWNET | 17])).toBe(EPERM)
    expect(run(x86('clone'), [0x00020000])).toBe(EPERM)
    expect(run(x86('clone'), [threadFlags])).toBe(ALLOW)
    expect(run(x86('clone'), [17])).toBe(ALLOW)
  })

  test('ioctl TIOCSTI denied despite high bits', () => {
    expect(run(x86('ioctl'), [0, 0x5412])).toBe(EPERM)
    expect(run(x86('ioctl'), [0, 0x1_0000_5412n])).toBe(EPERM)
    expect(run(x86('ioctl'), [0, 0x541c])).toBe(EPERM)
    expect(run(x86('ioctl'), [0, 0x5401])).toBe(ALLOW)
  })

  test('socket families and types', () => {
    const socket = x86('socket')
    expect(run(socket, [2, 1, 0])).toBe(ALLOW)
    expect(run(socket, [10, 2, 0])).toBe(ALLOW)
    expect(run(socket, [2, 3, 1])).toBe(EPERM)
    expect(run(socket, [2, 3 | 0x80000, 1])).toBe(EPERM)
    expect(run(socket, [17, 2, 0])).toBe(EPERM)
    expect(run(socket, [1, 1, 0])).toBe(EPERM)
    expect(run(socket, [16, 3, 0])).toBe(ALLOW)
    expect(run(socket, [16, 3, 9])).toBe(EPERM)
  })

  test('personality allows default persona', () => {
    expect(run(x86('personality'), [0])).toBe(ALLOW)
    expect(run(x86('personality'), [0xffffffff])).toBe(ALLOW)
    expect(run(x86('personality'), [0x0040000])).toBe(EPERM)
  })

  test('x32 numbers return ENOSYS', () => {
    expect(run(0x40000000 | 0)).toBe(ENOSYS)
    expect(run(0x40000000 | 59)).toBe(ENOSYS)
  })

  test('i386 arch is killed', () => {
    const result = runFilter(filter, { nr: 11, arch: AUDIT_ARCH.I386 })
    expect(result).toBe(SECCOMP_RET.KILL_PROCESS)
    expect(describeReturn(result).action).toBe('KILL_PROCESS')
  })

  test('every number matches the model', () => {
    const byNumber = new Map(Object.entries(SYSCALLS_X86_64).map(([name, nr]) => [nr, name]))
    const argChecked = new Set(['clone', 'ioctl', 'socket', 'personality'])
    for (let nr = 0; nr < 520; nr++) {
      const name = byNumber.get(nr)
      let expected: number
      if (name === undefined || name === 'clone3') expected = ENOSYS
      else if (DEFAULT_DENIED_SYSCALLS.includes(name) || ['chmod', 'fchmod'].includes(name) || WATCHED_SYSCALLS.includes(name)) expected = NOTIF
      else expected = ALLOW
      // Argument-checked syscalls allow all-zero arguments except socket(AF_UNSPEC...), which is allowed too.
      if (name !== undefined && argChecked.has(name)) expected = ALLOW
      expect(run(nr), `${nr} ${name ?? '(none)'}`).toBe(expected)
    }
  })
})

describe('modes and opt-ins', () => {
  test('permissive denials continue', () => {
    const compiled = compileSeccomp(profileFrom('enforce_mode: permissive'), 'x86_64')
    expect(runFilter(compiled.filter ?? '', { nr: x86('mount'), arch: AUDIT_ARCH.X86_64 })).toBe(NOTIF)
    expect(compiled.notifyActions[x86('mount')]).toEqual({ action: 'continue', syscall: 'mount', reason: 'denied' })
    expect(runFilter(compiled.filter ?? '', { nr: x86('clone'), arch: AUDIT_ARCH.X86_64, args: [0x10000000] })).toBe(EPERM)
  })

  test('disabled has no filter', () => {
    const compiled = compileSeccomp(profileFrom('enforce_mode: disabled'), 'x86_64')
    expect(compiled.filter).toBeNull()
    expect(compiled.listener).toBe(false)
    expect(compiled.notifyActions).toEqual({})
  })

  test('opt-ins lift their denials', () => {
    const compiled = compileSeccomp(profileFrom('syscalls:\n  allowed: [ptrace, personality, socket]\nnetwork:\n  allow_unix_sockets: true'), 'x86_64')
    const run = (nr: number, args: number[] = []) => runFilter(compiled.filter ?? '', { nr, arch: AUDIT_ARCH.X86_64, args })
    expect(run(x86('ptrace'))).toBe(ALLOW)
    expect(compiled.notifyActions[x86('ptrace')]).toBeUndefined()
    expect(run(x86('personality'), [0x0040000])).toBe(ALLOW)
    expect(run(x86('socket'), [2, 3, 1])).toBe(ALLOW)
    expect(run(x86('socket'), [17, 3, 0])).toBe(ALLOW)
    expect(run(x86('socket'), [1, 1, 0])).toBe(ALLOW)
    expect(run(x86('process_vm_readv'))).toBe(NOTIF)
  })

  test('filters cached per rules and mode', () => {
    const a = compileSeccomp(profileFrom('user: alice'), 'x86_64')
    const b = compileSeccomp(profileFrom('user: bob'), 'x86_64')
    const c = compileSeccomp(profileFrom('enforce_mode: permissive'), 'x86_64')
    expect(b).toBe(a)
    expect(c).not.toBe(a)
  })
})

describe('large filters', () => {
  test('alternating denials stay in range', () => {
    const names = Object.entries(SYSCALLS_X86_64)
      .filter(([name, nr]) => nr % 2 === 0 && !['clone', 'clone3', 'ioctl', 'socket', 'personality', ...LAUNCHER_SYSCALLS].includes(name))
      .map(([name]) => name)
    const profile = profileFrom(`syscalls:\n  denied: [${names.join(', ')}]`)
    const compiled = compileSeccomp(profile, 'x86_64')
    expect(compiled.instructionCount).toBeLessThan(4096)
    for (const [name, nr] of Object.entries(SYSCALLS_X86_64)) {
      const result = runFilter(compiled.filter ?? '', { nr, arch: AUDIT_ARCH.X86_64 })
      if (names.includes(name)) expect(result, name).toBe(NOTIF)
      else if (name === 'clone3') expect(result, name).toBe(ENOSYS)
      else if (!DEFAULT_DENIED_SYSCALLS.includes(name) && !WATCHED_SYSCALLS.includes(name)) expect(result, name).toBe(ALLOW)
    }
  })
})

describe('aarch64 filter', () => {
  const compiled = compileSeccomp(profileFrom('{}'), 'aarch64')
  const run = (name: string, args: number[] = []) => {
    const nr = SYSCALLS_AARCH64[name]
    if (nr === undefined) throw new Error(`no aarch64 syscall ${name}`)
    return runFilter(compiled.filter ?? '', { nr, arch: AUDIT_ARCH.AARCH64, args })
  }

  test('uses aarch64 numbers', () => {
    expect(SYSCALLS_AARCH64['openat']).toBe(56)
    expect(run('openat')).toBe(ALLOW)
    expect(run('mount')).toBe(NOTIF)
    expect(compiled.notifyActions[40]).toMatchObject({ syscall: 'mount', action: 'errno' })
    expect(run('clone', [0x10000000])).toBe(EPERM)
    expect(run('clone3')).toBe(ENOSYS)
  })

  test('foreign arch is killed', () => {
    expect(runFilter(compiled.filter ?? '', { nr: 0, arch: AUDIT_ARCH.X86_64 })).toBe(SECCOMP_RET.KILL_PROCESS)
    expect(runFilter(compiled.filter ?? '', { nr: 0, arch: AUDIT_ARCH.ARM })).toBe(SECCOMP_RET.KILL_PROCESS)
  })
})

// The same filter loaded into the running kernel, in a python3 child that
// sets no_new_privs first, so no root is needed. Without a notification
// listener the kernel returns ENOSYS for USER_NOTIF.
describe.skipIf(process.arch !== 'x64' || process.platform !== 'linux')('real kernel', () => {
  const helper = fileURLToPath(new URL('./fixtures/run-seccomp.py', import.meta.url))
  const compiled = compileSeccomp(profileFrom('{}'), 'x86_64')
  const probes = [
    { label: 'getpid', nr: x86('getpid'), args: [] },
    { label: 'clone3', nr: x86('clone3'), args: [0, 0] },
    { label: 'tiocsti', nr: x86('ioctl'), args: [0, 0x1_0000_5412] },
    { label: 'mount', nr: x86('mount'), args: [0, 0, 0, 0, 0] },
    { label: 'packet', nr: x86('socket'), args: [17, 3, 0] },
    { label: 'unix', nr: x86('socket'), args: [1, 1, 0] },
    { label: 'tcp', nr: x86('socket'), args: [2, 1, 0] },
    { label: 'unknown', nr: 400, args: [] },
    { label: 'x32', nr: 0x40000000 | x86('getpid'), args: [] },
    { label: 'persona', nr: x86('personality'), args: [0x0040000] },
    { label: 'newuser', nr: x86('clone'), args: [0x10000000 | 17, 0, 0, 0, 0], forks: true },
  ]
  const child = spawnSync('python3', [helper, JSON.stringify(probes)], { input: compiled.filter ?? '', encoding: 'utf8', timeout: 10_000 })
  const results = child.status === 0 ? (JSON.parse(child.stdout) as Record<string, { ret: number; errno: number }>) : {}

  test('kernel accepts the filter', () => {
    expect(child.stderr).toBe('')
    expect(child.status).toBe(0)
  })

  test('allowed calls succeed', () => {
    expect(results['getpid']?.ret).toBeGreaterThan(0)
    expect(results['tcp']?.ret).toBeGreaterThanOrEqual(0)
  })

  test('denials return their errno', () => {
    expect(results['clone3']).toEqual({ ret: -1, errno: 38 })
    expect(results['tiocsti']).toEqual({ ret: -1, errno: 1 })
    expect(results['mount']).toEqual({ ret: -1, errno: 38 })
    expect(results['packet']).toEqual({ ret: -1, errno: 1 })
    expect(results['unix']).toEqual({ ret: -1, errno: 1 })
    expect(results['unknown']).toEqual({ ret: -1, errno: 38 })
    expect(results['x32']).toEqual({ ret: -1, errno: 38 })
    expect(results['persona']).toEqual({ ret: -1, errno: 1 })
    expect(results['newuser']).toEqual({ ret: -1, errno: 1 })
  })
})
