export interface SparklineProps {
  values: number[]
  /**
   * Lowest top of the scale, so near-idle noise stays flat. The top is the
   * larger of this and 1.25 times the largest value.
   */
  minScale?: number
  /** Positions on the x axis; a shorter series ends at the right edge. */
  slots: number
  label: string
}

const width = 80
const height = 20

/**
 * A small line chart of the last values, drawn as one SVG polyline. The
 * newest value sits at the right edge, so the line grows from the right.
 */
export function Sparkline({ values, minScale = 0, slots, label }: SparklineProps) {
  const top = Math.max(minScale, Math.max(...values) * 1.25, Number.EPSILON)
  const step = width / Math.max(1, slots - 1)
  const offset = Math.max(0, slots - values.length)
  const points = values
    .map((value, i) => {
      const x = (offset + i) * step
      const y = height - (Math.max(0, value) / top) * (height - 2) - 1
      return `${x.toFixed(1)},${y.toFixed(1)}`
    })
    .join(' ')
  return (
    <svg
      className="sparkline"
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={label}
    >
      <rect className="sparkline-area" width={width} height={height} rx={3} />
      {values.length > 1 ? <polyline points={points} /> : null}
    </svg>
  )
}
