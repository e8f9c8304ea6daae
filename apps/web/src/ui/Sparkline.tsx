export interface SparklineProps {
  values: number[]
  /** The top of the scale; defaults to the largest value. */
  max?: number
  /** Slots on the x axis, so a short series starts at the left edge. */
  slots: number
  label: string
}

const width = 80
const height = 20

/** A small line chart of the last values, drawn as one SVG polyline. */
export function Sparkline({ values, max, slots, label }: SparklineProps) {
  const top = Math.max(max ?? 0, ...values, Number.EPSILON)
  const step = width / Math.max(1, slots - 1)
  const points = values
    .map((value, i) => {
      const x = i * step
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
      {values.length > 1 ? <polyline points={points} /> : null}
    </svg>
  )
}
