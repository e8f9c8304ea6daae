// Sizes in profiles: bytes as an integer, or a number with a unit suffix.
//
// One meaning per suffix, chosen to match the tools operators already use:
//   KiB MiB GiB TiB and bare K M G T  powers of 1024 (as ulimit and systemd read them)
//   KB  MB  GB  TB                    powers of 1000 (SI)
// Suffixes are case-sensitive.

export const SIZE_UNITS: Readonly<Record<string, number>> = {
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
  KB: 1000,
  MB: 1000 ** 2,
  GB: 1000 ** 3,
  TB: 1000 ** 4,
}

export const SIZE_HELP =
  'expected a positive whole number of bytes or a size such as 512MiB; KiB/MiB/GiB/TiB and K/M/G/T are powers of 1024, KB/MB/GB/TB are powers of 1000'

export type SizeResult = { ok: true; bytes: number } | { ok: false; message: string }

/**
 * Parses a size into bytes. Rejects zero, negative values, fractional byte
 * counts and anything above Number.MAX_SAFE_INTEGER.
 */
export function parseSize(input: unknown): SizeResult {
  if (typeof input === 'number') return checkBytes(input, String(input))
  if (typeof input !== 'string') return { ok: false, message: `invalid size ${describe(input)}; ${SIZE_HELP}` }
  const match = /^\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(input)
  if (match === null) return { ok: false, message: `invalid size "${input}"; ${SIZE_HELP}` }
  const [, amount = '', unit = ''] = match
  const multiplier = unit === '' ? 1 : unitMultiplier(unit)
  if (multiplier === null) return { ok: false, message: `invalid size "${input}": unknown unit "${unit}"; ${SIZE_HELP}` }
  // Decimal fractions are exact enough here: 1.5GiB is a whole number of bytes,
  // and a result that is not whole is rejected below.
  return checkBytes(Number(amount) * multiplier, `"${input}"`)
}

// Other spellings such as `mb` or `Mib` are rejected rather than guessed,
// because `mb` could mean megabits.
function unitMultiplier(unit: string): number | null {
  return Object.hasOwn(SIZE_UNITS, unit) ? (SIZE_UNITS[unit] ?? null) : null
}

function checkBytes(bytes: number, shown: string): SizeResult {
  if (!Number.isFinite(bytes)) return { ok: false, message: `invalid size ${shown}; ${SIZE_HELP}` }
  if (bytes <= 0) return { ok: false, message: `invalid size ${shown}: must be greater than zero; ${SIZE_HELP}` }
  if (!Number.isInteger(bytes)) return { ok: false, message: `invalid size ${shown}: not a whole number of bytes; ${SIZE_HELP}` }
  if (bytes > Number.MAX_SAFE_INTEGER) {
    return { ok: false, message: `invalid size ${shown}: larger than ${Number.MAX_SAFE_INTEGER} bytes; ${SIZE_HELP}` }
  }
  return { ok: true, bytes }
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  return typeof value === 'object' ? `of type ${Array.isArray(value) ? 'list' : 'map'}` : `${typeof value} ${String(value)}`
}
