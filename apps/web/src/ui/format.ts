const byteUnits = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

/** Formats a byte count with binary units: 1536 -> "1.5 KiB". */
export function formatBytes(bytes: number): string {
  let value = bytes
  let unit = 0
  while (Math.abs(value) >= 1024 && unit < byteUnits.length - 1) {
    value /= 1024
    unit += 1
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1
  return `${value.toFixed(digits)} ${byteUnits[unit]}`
}

/** Formats CPU use where 100 is one full CPU: 12.345 -> "12.3 %". */
export function formatPercent(percent: number): string {
  return `${percent.toFixed(percent >= 100 ? 0 : 1)} %`
}

/** Formats an ISO time as local hh:mm:ss, the date only when not today. */
export function formatTime(iso: string, now: Date = new Date()): string {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  const time = date.toLocaleTimeString(undefined, { hour12: false })
  if (date.toDateString() === now.toDateString()) return time
  return `${date.toLocaleDateString()} ${time}`
}
