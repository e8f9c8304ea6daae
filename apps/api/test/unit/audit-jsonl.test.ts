import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { AuditLog, auditPaths } from '../../src/audit/index.js'
import { readJsonl } from '../../src/audit/jsonl.js'

let dir: string

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'blackhole-jsonl-'))
})

afterEach(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('readJsonl', () => {
  it('splits complete lines and the torn tail', () => {
    const path = join(dir, 'a.jsonl')
    writeFileSync(path, '{"seq":1}\n{"seq":2}\n{"se')
    const contents = readJsonl(path)
    expect(contents.lines.map((line) => line.text)).toEqual(['{"seq":1}', '{"seq":2}'])
    expect(contents.lines.map((line) => line.offset)).toEqual([0, 10])
    expect(contents.tornTail).toBe('{"se')
    expect(contents.completeBytes).toBe(20)
  })

  it('stops at limitBytes', () => {
    const path = join(dir, 'b.jsonl')
    writeFileSync(path, '{"seq":1}\n{"seq":2}\n')
    const contents = readJsonl(path, 10)
    expect(contents.lines).toHaveLength(1)
    expect(contents.tornTail).toBe('')
  })

  it('reads from an offset inside a line', () => {
    const path = join(dir, 'c.jsonl')
    writeFileSync(path, '{"seq":1}\n{"seq":2}\n{"seq":3}\nxy')
    const contents = readJsonl(path, undefined, 12)
    expect(contents.lines.map((line) => line.text)).toEqual(['{"seq":3}'])
    expect(contents.lines[0]?.offset).toBe(20)
    expect(contents.tornTail).toBe('xy')
    expect(contents.completeBytes).toBe(30)
  })

  it('returns nothing for a missing file', () => {
    expect(readJsonl(join(dir, 'missing.jsonl')).lines).toEqual([])
  })
})

describe('AuditLog open on a large JSONL', () => {
  it('repairs a torn tail past 4 MiB', async () => {
    const paths = auditPaths(dir)
    const log = AuditLog.open(paths)
    const description = 'x'.repeat(600)
    await Promise.all(Array.from({ length: 8000 }, (_, index) => log.append({ type: 'TEST', severity: 'info', description, metadata: { index } })))
    await log.close()
    expect(readFileSync(paths.jsonlPath).length).toBeGreaterThan(4 * 1024 * 1024)
    appendFileSync(paths.jsonlPath, '{"actor":null,"desc')
    const reopened = AuditLog.open(paths)
    expect(reopened.recovery?.tornTailBytes).toBe(19)
    const next = await reopened.append({ type: 'TEST', severity: 'info', description: 'after' })
    expect(next.seq).toBe(8003)
    const report = reopened.verify()
    await reopened.close()
    expect(report.problems).toEqual([])
    expect(report.records).toBe(8003)
  })
})
