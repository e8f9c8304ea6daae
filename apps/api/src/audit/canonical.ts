import { createHash, createHmac } from 'node:crypto'
import type { AuditRecord } from '../types.js'

/** The hash that the genesis record links to. */
export const GENESIS_PREV_HASH = '0'.repeat(64)

/**
 * Serializes a JSON value in Blackhole's canonical form, modelled on RFC 8785
 * (JSON Canonicalization Scheme):
 * - object keys sorted by UTF-16 code units (the default JavaScript sort),
 *   members whose value is undefined omitted, as JSON.stringify does;
 * - no whitespace between tokens;
 * - strings and numbers written by JSON.stringify, whose ECMAScript number
 *   formatting and string escaping are the ones RFC 8785 specifies;
 * - arrays keep their order.
 * Unlike RFC 8785, non-finite numbers are not rejected here: callers pass
 * values through `toJsonValue` first, which turns them into null exactly as
 * JSON.stringify would, so the stored form and the hashed form agree.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value)
    if (text === undefined) {
      throw new TypeError(`canonicalJson: ${typeof value} is not a JSON value; pass data that JSON.stringify accepts`)
    }
    return text
  }
  if (Array.isArray(value)) {
    return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`
  }
  const object = value as Record<string, unknown>
  const members: string[] = []
  for (const key of Object.keys(object).sort()) {
    const item = object[key]
    if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue
    members.push(`${JSON.stringify(key)}:${canonicalJson(item)}`)
  }
  return `{${members.join(',')}}`
}

/**
 * Returns the value as plain JSON data (what JSON.parse of JSON.stringify
 * would give): Dates become strings, NaN and Infinity become null. A bigint
 * or a cycle throws, because neither has a JSON form.
 */
export function toJsonValue<T>(value: T): T {
  const text = JSON.stringify(value)
  return (text === undefined ? null : JSON.parse(text)) as T
}

/** Every record field that the hash and the HMAC cover. */
export type HashedFields = Omit<AuditRecord, 'hash' | 'hmac'>

/**
 * Writes the canonical JSON of a record's fields in sorted key order as two
 * parts: the members before `hash` and those after `hmac`. Joined, they are
 * the hashed form; with `"hash":…,"hmac":…,` between them, the JSONL line.
 * The key set is fixed, so this template needs no key sort or object walk
 * on the append path. A unit test checks that it matches canonicalJson.
 */
function recordJsonParts(record: HashedFields, metadataJson: string): [string, string] {
  return [
    `{"actor":${JSON.stringify(record.actor)},"description":${JSON.stringify(record.description)},`,
    `"metadata":${metadataJson},"pid":${JSON.stringify(record.pid)},"prevHash":${JSON.stringify(record.prevHash)},` +
      `"seq":${JSON.stringify(record.seq)},"service":${JSON.stringify(record.service)},` +
      `"severity":${JSON.stringify(record.severity)},"time":${JSON.stringify(record.time)},"type":${JSON.stringify(record.type)}}`,
  ]
}

function sealMembers(hash: string, hmac: string | null): string {
  return `"hash":${JSON.stringify(hash)},"hmac":${JSON.stringify(hmac)},`
}

function recordJson(record: HashedFields, metadataJson: string, seal: { hash: string; hmac: string | null } | null): string {
  const [head, tail] = recordJsonParts(record, metadataJson)
  return seal ? head + sealMembers(seal.hash, seal.hmac) + tail : head + tail
}

/**
 * Seals a new record and returns its hash, HMAC and JSONL line, serializing
 * its fields once for all three.
 */
export function sealAndSerialize(
  record: HashedFields,
  hmacKey: Buffer | null,
  metadataJson: string,
): { hash: string; hmac: string | null; line: string } {
  const [head, tail] = recordJsonParts(record, metadataJson)
  const bytes = Buffer.from(record.prevHash + head + tail, 'utf8')
  const hash = createHash('sha256').update(bytes).digest('hex')
  const hmac = hmacKey ? createHmac('sha256', hmacKey).update(bytes).digest('hex') : null
  return { hash, hmac, line: head + sealMembers(hash, hmac) + tail }
}

/**
 * Returns the bytes that the hash and HMAC cover: the previous hash followed
 * by the canonical JSON of the record without `hash` and `hmac`, as UTF-8.
 */
export function hashedBytes(record: HashedFields, metadataJson = canonicalJson(record.metadata)): Buffer {
  return Buffer.from(record.prevHash + recordJson(record, metadataJson, null), 'utf8')
}

/** Computes the SHA-256 hex hash and, with a key, the HMAC-SHA-256 hex of a record. */
export function sealRecord(
  record: HashedFields,
  hmacKey: Buffer | null,
  metadataJson = canonicalJson(record.metadata),
): { hash: string; hmac: string | null } {
  const bytes = hashedBytes(record, metadataJson)
  const hash = createHash('sha256').update(bytes).digest('hex')
  const hmac = hmacKey ? createHmac('sha256', hmacKey).update(bytes).digest('hex') : null
  return { hash, hmac }
}

/** Returns the JSONL line of a record: its canonical JSON, with hash and hmac, and no newline. */
export function recordLine(record: AuditRecord, metadataJson = canonicalJson(record.metadata)): string {
  return recordJson(record, metadataJson, { hash: record.hash, hmac: record.hmac })
}

/** Returns the SHA-256 hex fingerprint of an HMAC key, or null without a key. */
export function keyFingerprint(key: Buffer | null): string | null {
  return key ? createHash('sha256').update(key).digest('hex') : null
}
