// Nearest-name suggestions for misspelt keys, syscalls and capabilities.

/** Levenshtein distance: insertions, deletions and substitutions each cost 1. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution))
    }
    previous = current
  }
  return previous[b.length] ?? 0
}

/**
 * Returns up to `limit` candidates closest to `name`, nearest first, keeping
 * only those within a third of the name's length (at least 2 edits) so that
 * unrelated names are not offered.
 */
export function closestNames(name: string, candidates: Iterable<string>, limit = 3): string[] {
  const lower = name.toLowerCase()
  const maxDistance = Math.max(2, Math.floor(lower.length / 3))
  const scored: { candidate: string; distance: number }[] = []
  for (const candidate of candidates) {
    const other = candidate.toLowerCase()
    // A name that starts another (`cap_net_bind` of `cap_net_bind_service`) is a closer match than any edit.
    const distance = other.startsWith(lower) ? 0.5 : editDistance(lower, other)
    if (distance <= maxDistance) scored.push({ candidate, distance })
  }
  scored.sort((x, y) => x.distance - y.distance || x.candidate.localeCompare(y.candidate))
  return scored.slice(0, limit).map((entry) => entry.candidate)
}

/** Formats ` (did you mean "a" or "b"?)`, or an empty string when there is no suggestion. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  const names = closestNames(name, candidates)
  if (names.length === 0) return ''
  const quoted = names.map((n) => `"${n}"`)
  const last = quoted.pop()
  return quoted.length === 0 ? `; did you mean ${last}?` : `; did you mean ${quoted.join(', ')} or ${last}?`
}
