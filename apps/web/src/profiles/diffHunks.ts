import type { DiffLine } from '../api/types.js'

export type DiffRow = { kind: 'line'; line: DiffLine } | { kind: 'skip'; count: number }

/**
 * Keeps changed lines and up to `context` unchanged lines around each,
 * and replaces every longer unchanged run with one skip row.
 */
export function diffHunks(lines: DiffLine[], context = 3): DiffRow[] {
  const near = new Array<boolean>(lines.length).fill(false)
  lines.forEach((line, i) => {
    if (line.op === 'same') return
    for (let j = Math.max(0, i - context); j <= Math.min(lines.length - 1, i + context); j++) near[j] = true
  })
  const rows: DiffRow[] = []
  let skipped = 0
  lines.forEach((line, i) => {
    if (near[i]) {
      if (skipped > 0) rows.push({ kind: 'skip', count: skipped })
      skipped = 0
      rows.push({ kind: 'line', line })
    } else {
      skipped++
    }
  })
  if (skipped > 0) rows.push({ kind: 'skip', count: skipped })
  return rows
}
