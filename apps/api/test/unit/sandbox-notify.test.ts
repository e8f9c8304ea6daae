import { parseConfig, SYSCALLS_X86_64, type Profile } from '@blackhole/policy'
import { describe, expect, it } from 'vitest'
import { notifyEventToAudit, syscallName, type NotifyEventLike } from '../../src/sandbox/notify.js'

const AUDIT_ARCH_X86_64 = 0xc000003e
const AUDIT_ARCH_AARCH64 = 0xc00000b7

const YAML = `
security_profiles:
  web:
    syscalls:
      denied:
        - connect
`

function loadProfile(): Profile {
  const result = parseConfig(YAML, 'test.yaml')
  if (!result.ok) throw new Error(JSON.stringify(result.errors))
  return result.config.profiles.web!
}

function event(name: string, action: 'errno' | 'continue', extra: Partial<NotifyEventLike> = {}): NotifyEventLike {
  return {
    pid: 4321,
    syscall: SYSCALLS_X86_64[name]!,
    arch: AUDIT_ARCH_X86_64,
    args: ['1', '2', '3', '0', '0', '0'],
    action,
    errno: action === 'errno' ? 1 : 0,
    time: 1_700_000_000_000,
    ...extra,
  }
}

describe('syscallName', () => {
  it('names x86_64 numbers', () => {
    expect(syscallName(AUDIT_ARCH_X86_64, 59)).toBe('execve')
    expect(syscallName(AUDIT_ARCH_X86_64, 101)).toBe('ptrace')
  })

  it('names aarch64 numbers', () => {
    expect(syscallName(AUDIT_ARCH_AARCH64, 221)).toBe('execve')
  })

  it('falls back for unknown numbers', () => {
    expect(syscallName(AUDIT_ARCH_X86_64, 9999)).toBe('syscall_9999')
    expect(syscallName(0x40000003, 11)).toBe('syscall_11')
  })
})

describe('notifyEventToAudit', () => {
  const profile = loadProfile()

  it('maps an errno answer to ACCESS_DENIED', () => {
    const audit = notifyEventToAudit('web', profile, event('ptrace', 'errno'))
    expect(audit.type).toBe('ACCESS_DENIED')
    expect(audit.severity).toBe('medium')
    expect(audit.service).toBe('web')
    expect(audit.pid).toBe(4321)
    expect(audit.description).toBe('ptrace denied with EPERM')
    expect(audit.metadata?.syscall).toBe('ptrace')
    expect(audit.metadata?.errno).toBe(1)
    expect(audit.metadata?.args).toEqual(['1', '2', '3', '0', '0', '0'])
  })

  it('maps a watched execve to SYSCALL_OBSERVED', () => {
    const audit = notifyEventToAudit('web', profile, event('execve', 'continue', {
      decoded: { path: '/bin/ls', argv: ['ls', '-l'] },
    }))
    expect(audit.type).toBe('SYSCALL_OBSERVED')
    expect(audit.severity).toBe('info')
    expect(audit.description).toBe('execve: ls -l')
    expect(audit.metadata?.decoded).toEqual({ path: '/bin/ls', argv: ['ls', '-l'] })
  })

  it('maps a let-through denied call to SYSCALL_VIOLATION', () => {
    const audit = notifyEventToAudit('web', profile, event('ptrace', 'continue'))
    expect(audit.type).toBe('SYSCALL_VIOLATION')
    expect(audit.severity).toBe('low')
    expect(audit.description).toBe('ptrace would be denied in enforce mode')
  })

  it('treats a watched call the profile denies as a violation', () => {
    const audit = notifyEventToAudit('web', profile, event('connect', 'continue', {
      decoded: { family: 'AF_INET', address: '127.0.0.1', port: 80 },
    }))
    expect(audit.type).toBe('SYSCALL_VIOLATION')
    expect(audit.description).toBe('connect would be denied in enforce mode: 127.0.0.1:80')
  })
})
