import { describe, expect, it } from 'vitest'
import type { DiffLine } from '../../api/types.js'
import { diffHunks } from '../diffHunks.js'

function same(n: number): DiffLine[] {
  return Array.from({ length: n }, (_, i) => ({ op: 'same', text: `l${i}`, oldLine: i + 1, newLine: i + 1 }))
}

describe('diffHunks', () => {
  it('should keep context around a change', () => {
    const lines: DiffLine[] = [...same(10), { op: 'removed', text: 'x', oldLine: 11, newLine: null }, ...same(10)]
    const rows = diffHunks(lines, 2)
    expect(rows.map((row) => (row.kind === 'skip' ? `skip ${row.count}` : row.line.op))).toEqual([
      'skip 8',
      'same',
      'same',
      'removed',
      'same',
      'same',
      'skip 8',
    ])
  })

  it('should skip everything when nothing changed', () => {
    expect(diffHunks(same(5))).toEqual([{ kind: 'skip', count: 5 }])
  })
})
