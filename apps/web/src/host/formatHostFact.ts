/** Turns a camelCase or snake_case key into words: landlockAbi -> "landlock abi". */
export function humanizeKey(key: string): string {
  return key
    .replace(/_/g, ' ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
}

/**
 * Formats one host fact for display. The server may add facts at any
 * time, so any JSON value is accepted: nested objects become
 * "key value" pairs separated by commas.
 */
export function formatHostFact(value: unknown): string {
  if (value === null || value === undefined) return 'unknown'
  if (typeof value === 'boolean') return value ? 'yes' : 'no'
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.map(formatHostFact).join(', ')
  if (typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>)
      .map(([key, inner]) => `${humanizeKey(key)} ${formatHostFact(inner)}`)
      .join('; ')
  }
  return String(value)
}
