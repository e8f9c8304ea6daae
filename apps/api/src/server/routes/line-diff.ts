// A line diff from the longest common subsequence of two texts.

export type DiffOp = 'same' | 'added' | 'removed'

export interface DiffLine {
  op: DiffOp
  text: string
  /** Line number in the old text (1-based); null for an added line. */
  oldLine: number | null
  /** Line number in the new text (1-based); null for a removed line. */
  newLine: number | null
}

/** Largest old x new line product diffed; profiles are far smaller, and the table is Uint32 cells. */
export const MAX_DIFF_CELLS = 4_000_000

function splitLines(text: string): string[] {
  if (text === '') return []
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  return lines
}

/**
 * Returns the lines of both texts in order, each marked same, added or
 * removed. Common leading and trailing lines are matched first so the LCS
 * table covers only the changed middle. Throws a RangeError when that
 * middle exceeds MAX_DIFF_CELLS.
 */
export function lineDiff(oldText: string, newText: string): DiffLine[] {
  const a = splitLines(oldText)
  const b = splitLines(newText)
  let start = 0
  while (start < a.length && start < b.length && a[start] === b[start]) start++
  let endA = a.length
  let endB = b.length
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--
    endB--
  }
  const rows = endA - start
  const cols = endB - start
  if (rows * cols > MAX_DIFF_CELLS) {
    throw new RangeError(`texts too different to diff: ${rows} x ${cols} changed lines exceed ${MAX_DIFF_CELLS} cells`)
  }
  // lengths[i * (cols + 1) + j] = LCS length of a[start + i..endA) and b[start + j..endB).
  const width = cols + 1
  const lengths = new Uint32Array((rows + 1) * width)
  for (let i = rows - 1; i >= 0; i--) {
    for (let j = cols - 1; j >= 0; j--) {
      lengths[i * width + j] =
        a[start + i] === b[start + j]
          ? lengths[(i + 1) * width + j + 1]! + 1
          : Math.max(lengths[(i + 1) * width + j]!, lengths[i * width + j + 1]!)
    }
  }

  const result: DiffLine[] = []
  for (let k = 0; k < start; k++) result.push({ op: 'same', text: a[k]!, oldLine: k + 1, newLine: k + 1 })
  let i = 0
  let j = 0
  while (i < rows || j < cols) {
    if (i < rows && j < cols && a[start + i] === b[start + j]) {
      result.push({ op: 'same', text: a[start + i]!, oldLine: start + i + 1, newLine: start + j + 1 })
      i++
      j++
    } else if (i < rows && (j === cols || lengths[(i + 1) * width + j]! >= lengths[i * width + j + 1]!)) {
      // Removals come before additions at the same place, as in unified diffs.
      result.push({ op: 'removed', text: a[start + i]!, oldLine: start + i + 1, newLine: null })
      i++
    } else {
      result.push({ op: 'added', text: b[start + j]!, oldLine: null, newLine: start + j + 1 })
      j++
    }
  }
  for (let k = 0; k < a.length - endA; k++) {
    result.push({ op: 'same', text: a[endA + k]!, oldLine: endA + k + 1, newLine: endB + k + 1 })
  }
  return result
}
