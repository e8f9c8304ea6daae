import { describe, expect, it } from 'vitest'
import { canonicalJson, GENESIS_PREV_HASH, hashedBytes, sealRecord } from '../../src/audit/index.js'
import { recordLine, sealAndSerialize, toJsonValue } from '../../src/audit/canonical.js'

const record = {
  seq: 7,
  time: '2026-12-04T10:00:00.000Z',
  service: 'web',
  pid: 42,
  type: 'ACCESS_DENIED',
  severity: 'high' as const,
  description: 'denied ptrace',
  metadata: { syscall: 'ptrace', nr: 101, args: [1, 'two'] },
  actor: null,
  prevHash: GENESIS_PREV_HASH,
}

describe('canonicalJson', () => {
  it('sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}')
  })

  it('sorts by UTF-16 code units', () => {
    // U+20AC (euro) sorts before U+1F600 (surrogates D83D...) and after "z".
    expect(canonicalJson({ '\u{1F600}': 1, '\u20AC': 2, z: 3 })).toBe('{"z":3,"€":2,"😀":1}')
  })

  it('writes numbers and strings as ECMAScript does', () => {
    expect(canonicalJson([1e21, 0.1, -0, 1.5e-7, 'a"b\n\u0001'])).toBe('[1e+21,0.1,0,1.5e-7,"a\\"b\\n\\u0001"]')
  })

  it('omits undefined members', () => {
    expect(canonicalJson({ a: undefined, b: [undefined] })).toBe('{"b":[null]}')
  })

  it('rejects a value without JSON form', () => {
    expect(() => canonicalJson(undefined)).toThrow(/is not a JSON value/)
  })

  it('normalizes like JSON.stringify', () => {
    expect(toJsonValue({ when: new Date(0), bad: Number.NaN })).toEqual({ when: '1970-01-01T00:00:00.000Z', bad: null })
  })
})

describe('sealRecord', () => {
  it('hashes prevHash plus canonical JSON', () => {
    const bytes = hashedBytes(record).toString('utf8')
    expect(bytes.startsWith(GENESIS_PREV_HASH + '{"actor":null,"description":"denied ptrace"')).toBe(true)
    expect(bytes.includes('"hash"')).toBe(false)
  })

  it('ignores key order of the input', () => {
    const reordered = { ...record, metadata: { args: [1, 'two'], nr: 101, syscall: 'ptrace' } }
    expect(sealRecord(reordered, null).hash).toBe(sealRecord(record, null).hash)
  })

  it('changes with any field', () => {
    const base = sealRecord(record, null).hash
    expect(sealRecord({ ...record, seq: 8 }, null).hash).not.toBe(base)
    expect(sealRecord({ ...record, pid: 43 }, null).hash).not.toBe(base)
    expect(sealRecord({ ...record, metadata: { ...record.metadata, nr: 102 } }, null).hash).not.toBe(base)
  })

  it('adds an HMAC only with a key', () => {
    expect(sealRecord(record, null).hmac).toBeNull()
    const first = sealRecord(record, Buffer.alloc(32, 1)).hmac
    const second = sealRecord(record, Buffer.alloc(32, 2)).hmac
    expect(first).toMatch(/^[0-9a-f]{64}$/)
    expect(second).not.toBe(first)
  })
})

describe('recordLine', () => {
  it('equals the general canonical form', () => {
    const sealed = { ...record, ...sealRecord(record, Buffer.alloc(32, 3)) }
    expect(recordLine(sealed)).toBe(canonicalJson(sealed))
    const unsealed = { ...record, service: null, pid: null, actor: 'rule:x', hash: 'ab', hmac: null }
    expect(recordLine(unsealed)).toBe(canonicalJson(unsealed))
  })

  it('matches the line from sealAndSerialize', () => {
    const key = Buffer.alloc(32, 3)
    const sealed = sealAndSerialize(record, key, canonicalJson(record.metadata))
    const expected = { ...record, ...sealRecord(record, key) }
    expect(sealed.hash).toBe(expected.hash)
    expect(sealed.hmac).toBe(expected.hmac)
    expect(sealed.line).toBe(canonicalJson(expected))
  })

  it('matches the hashed bytes without hash and hmac', () => {
    expect(hashedBytes(record).toString('utf8')).toBe(record.prevHash + canonicalJson(record))
  })
})
