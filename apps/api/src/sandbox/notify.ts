// Turns seccomp notifications into audit events.

import { ERRNO, SYSCALLS_AARCH64, SYSCALLS_X86_64, type Profile } from '@blackhole/policy'
import type { AuditInput, Severity } from '../types.js'

/** One notification as the native SeccompNotifier delivers it. */
export interface NotifyEventLike {
  pid: number
  syscall: number
  arch: number
  args: string[]
  action: 'errno' | 'continue'
  errno: number
  time: number
  decoded?: { path?: string; argv?: string[]; family?: string; address?: string; port?: number; request?: number }
}

// AUDIT_ARCH_* values from linux/audit.h.
const AUDIT_ARCH_X86_64 = 0xc000003e
const AUDIT_ARCH_AARCH64 = 0xc00000b7

/** Syscalls that every filter reports and lets through, so the supervisor can record them. */
export const WATCHED_SYSCALLS = new Set(['execve', 'execveat', 'connect', 'bind'])

function invert(table: Readonly<Record<string, number>>): Map<number, string> {
  return new Map(Object.entries(table).map(([name, number]) => [number, name]))
}

const namesByArch = new Map<number, Map<number, string>>([
  [AUDIT_ARCH_X86_64, invert(SYSCALLS_X86_64)],
  [AUDIT_ARCH_AARCH64, invert(SYSCALLS_AARCH64)],
])

const errnoNames = new Map(Object.entries(ERRNO).map(([name, number]) => [number, name]))

/** Returns the syscall name for a number on an AUDIT_ARCH, or `syscall_<nr>` when unknown. */
export function syscallName(arch: number, nr: number): string {
  return namesByArch.get(arch)?.get(nr) ?? `syscall_${nr}`
}

/**
 * Classifies one notification: ACCESS_DENIED when the notifier returned an
 * errno (enforce), SYSCALL_OBSERVED for a watched syscall the profile does
 * not deny, SYSCALL_VIOLATION for a denied syscall let through (permissive).
 */
export function notifyEventToAudit(service: string, profile: Profile, event: NotifyEventLike): AuditInput {
  const name = syscallName(event.arch, event.syscall)
  const deniedByProfile = profile.syscalls.denied.some((rule) => rule.name === name)
  let type: string
  let severity: Severity
  let description: string
  if (event.action === 'errno') {
    type = 'ACCESS_DENIED'
    severity = 'medium'
    const errno = errnoNames.get(event.errno) ?? String(event.errno)
    description = `${name} denied with ${errno}${describeTarget(event)}`
  } else if (WATCHED_SYSCALLS.has(name) && !deniedByProfile) {
    type = 'SYSCALL_OBSERVED'
    severity = 'info'
    description = `${name}${describeTarget(event)}`
  } else {
    type = 'SYSCALL_VIOLATION'
    severity = 'low'
    description = `${name} would be denied in enforce mode${describeTarget(event)}`
  }
  return {
    service,
    pid: event.pid,
    type,
    severity,
    description,
    metadata: {
      syscall: name,
      nr: event.syscall,
      arch: event.arch,
      args: event.args,
      action: event.action,
      errno: event.action === 'errno' ? event.errno : null,
      time: event.time,
      ...(event.decoded === undefined ? {} : { decoded: event.decoded }),
    },
    actor: 'supervisor',
  }
}

function describeTarget(event: NotifyEventLike): string {
  const decoded = event.decoded
  if (decoded === undefined) return ''
  if (decoded.argv !== undefined && decoded.argv.length > 0) return `: ${decoded.argv.join(' ').slice(0, 200)}`
  if (decoded.path !== undefined) return `: ${decoded.path}`
  if (decoded.address !== undefined) return `: ${decoded.address}${decoded.port === undefined ? '' : `:${decoded.port}`}`
  if (decoded.family !== undefined) return `: ${decoded.family}`
  return ''
}
