// Parser for kernel audit records and the assembly of Landlock denials.
// The record texts are copies of what kernel 6.18 sent on the audit socket.

import { describe, expect, it } from 'vitest'
import {
  AUDIT_EOE,
  AUDIT_LANDLOCK_ACCESS,
  AUDIT_LANDLOCK_DOMAIN,
  AUDIT_SYSCALL,
  landlockDenials,
  parseAuditFields,
  parseAuditRecord,
} from '../../src/monitor/audit-records.js'

const ACCESS = 'audit(1796400195.968:2): domain=163392776 blockers=fs.make_reg path="/tmp" dev="tmpfs" ino=1'
const DOMAIN = 'audit(1796400195.968:2): domain=163392776 status=allocated mode=enforcing pid=22999 uid=61999 exe="/usr/bin/node" comm="node"'
const SYSCALL =
  'audit(1796400195.968:2): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c a1=55affc6569a8 a2=241 a3=1b6 items=0 ' +
  'ppid=22974 pid=22999 auid=4294967295 uid=61999 gid=61999 euid=61999 suid=61999 fsuid=61999 egid=61999 sgid=61999 ' +
  'fsgid=61999 tty=(none) ses=4294967295 comm="sh" exe="/usr/bin/dash" key=(null)'

describe('parseAuditRecord', () => {
  it('reads the time and serial', () => {
    const record = parseAuditRecord(AUDIT_LANDLOCK_ACCESS, ACCESS)!
    expect(record.time).toBe(1796400195968)
    expect(record.serial).toBe(2)
    expect(record.type).toBe(AUDIT_LANDLOCK_ACCESS)
  })

  it('reads quoted and bare fields', () => {
    const record = parseAuditRecord(AUDIT_LANDLOCK_ACCESS, ACCESS)!
    expect(record.fields).toEqual({ domain: '163392776', blockers: 'fs.make_reg', path: '/tmp', dev: 'tmpfs', ino: '1' })
  })

  it('returns null without a header', () => {
    expect(parseAuditRecord(AUDIT_SYSCALL, 'pid=1 comm="x"')).toBeNull()
  })

  it('keeps an empty end-of-event record', () => {
    const record = parseAuditRecord(AUDIT_EOE, 'audit(1796400195.968:2): ')!
    expect(record.fields).toEqual({})
  })
})

describe('parseAuditFields', () => {
  it('decodes a hex-encoded path with a space', () => {
    // "/tmp/a b" as audit_log_untrustedstring writes it.
    expect(parseAuditFields('path=2F746D702F612062 dev="tmpfs"').path).toBe('/tmp/a b')
  })

  it('decodes a hex-encoded comm with a quote', () => {
    expect(parseAuditFields('comm=6122').comm).toBe('a"')
  })

  it('leaves bare values of other fields alone', () => {
    expect(parseAuditFields('a0=ffffff9c exit=-13').a0).toBe('ffffff9c')
  })

  it('leaves unset untrusted fields as written', () => {
    expect(parseAuditFields('key=(null) exe=?').key).toBe('(null)')
    expect(parseAuditFields('key=(null) exe=?').exe).toBe('?')
  })

  it('reads network denial fields', () => {
    const fields = parseAuditFields('domain=1a2b blockers=net.connect_tcp daddr=127.0.0.1 dest=50002')
    expect(fields.blockers).toBe('net.connect_tcp')
    expect(fields.daddr).toBe('127.0.0.1')
    expect(fields.dest).toBe('50002')
  })
})

describe('landlockDenials', () => {
  it('takes the pid from the SYSCALL record', () => {
    const records = [
      parseAuditRecord(AUDIT_LANDLOCK_ACCESS, ACCESS)!,
      parseAuditRecord(AUDIT_LANDLOCK_DOMAIN, DOMAIN)!,
      parseAuditRecord(AUDIT_SYSCALL, SYSCALL)!,
    ]
    const [denial] = landlockDenials(records)
    expect(denial!.pid).toBe(22999)
    expect(denial!.path).toBe('/tmp')
    expect(denial!.blockers).toEqual(['fs.make_reg'])
    expect(denial!.domain).toBe('163392776')
    expect(denial!.details).toEqual({ dev: 'tmpfs', ino: '1' })
  })

  it('splits several blockers', () => {
    const record = parseAuditRecord(AUDIT_LANDLOCK_ACCESS, 'audit(1.000:9): domain=5 blockers=fs.write_file,fs.truncate path="/etc/x"')!
    expect(landlockDenials([record])[0]!.blockers).toEqual(['fs.write_file', 'fs.truncate'])
  })

  it('leaves the pid null without a SYSCALL record', () => {
    const record = parseAuditRecord(AUDIT_LANDLOCK_ACCESS, ACCESS)!
    expect(landlockDenials([record])[0]!.pid).toBeNull()
  })

  it('returns nothing for events without access records', () => {
    expect(landlockDenials([parseAuditRecord(AUDIT_SYSCALL, SYSCALL)!])).toEqual([])
  })
})
