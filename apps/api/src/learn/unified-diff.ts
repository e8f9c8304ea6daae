// Unified diff text (as `diff -u` prints it) over the line diff the profile routes use.

import { lineDiff, type DiffLine } from '../server/routes/line-diff.js'

const CONTEXT = 3

/** Returns a unified diff of two texts with three lines of context; empty when they are equal. */
export function unifiedDiff(oldText: string, newText: string, oldName: string, newName: string): string {
  const lines = lineDiff(oldText, newText)
  const changed = lines.map((line, index) => (line.op === 'same' ? -1 : index)).filter((index) => index >= 0)
  if (changed.length === 0) return ''
  // Group changes whose context overlaps into one hunk.
  const hunks: [number, number][] = []
  for (const index of changed) {
    const start = Math.max(0, index - CONTEXT)
    const end = Math.min(lines.length - 1, index + CONTEXT)
    const last = hunks[hunks.length - 1]
    if (last !== undefined && start <= last[1] + 1) last[1] = end
    else hunks.push([start, end])
  }
  const out = [`--- ${oldName}`, `+++ ${newName}`]
  for (const [start, end] of hunks) out.push(...formatHunk(lines, start, end))
  return `${out.join('\n')}\n`
}

function formatHunk(lines: DiffLine[], start: number, end: number): string[] {
  const slice = lines.slice(start, end + 1)
  const before = lines.slice(0, start)
  const oldCount = slice.filter((line) => line.op !== 'added').length
  const newCount = slice.filter((line) => line.op !== 'removed').length
  const oldBefore = before.filter((line) => line.op !== 'added').length
  const newBefore = before.filter((line) => line.op !== 'removed').length
  // A side with no lines in the hunk names the line before it, as diff -u does.
  const oldStart = oldCount === 0 ? oldBefore : oldBefore + 1
  const newStart = newCount === 0 ? newBefore : newBefore + 1
  const body = slice.map((line) => `${line.op === 'same' ? ' ' : line.op === 'added' ? '+' : '-'}${line.text}`)
  return [`@@ -${oldStart},${oldCount} +${newStart},${newCount} @@`, ...body]
}
