export interface LineChartPoint {
  /** Milliseconds since the epoch. */
  time: number
  value: number
}

export interface LineChartProps {
  title: string
  points: LineChartPoint[]
  /** Formats a value for the axis and the latest reading. */
  format: (value: number) => string
  /** Lowest top of the scale, so idle noise stays flat. */
  minScale?: number
  /** Draws a dashed line at this value, such as a limit. */
  limit?: number | null
}

const width = 300
const height = 90

/** A labelled line chart of a time series, stretched to its container's width. */
export function LineChart({ title, points, format, minScale = 0, limit = null }: LineChartProps) {
  const latest = points.at(-1)
  const largest = Math.max(minScale, ...points.map((point) => point.value), Number.EPSILON)
  const top = largest * 1.15
  const first = points[0]?.time ?? 0
  const span = Math.max(1, (latest?.time ?? 1) - first)
  const x = (time: number) => ((time - first) / span) * width
  const y = (value: number) => height - (Math.max(0, value) / top) * (height - 4) - 2
  const line = points.map((point) => `${x(point.time).toFixed(1)},${y(point.value).toFixed(1)}`).join(' ')
  const minutes = Math.round(span / 60_000)
  let age = 'waiting for samples'
  if (points.length > 1) age = minutes >= 1 ? `${minutes} min ago` : `${Math.round(span / 1000)} s ago`

  return (
    <figure className="line-chart" data-testid="line-chart">
      <figcaption>
        <span>{title}</span>
        <strong className="numeric">{latest ? format(latest.value) : '–'}</strong>
      </figcaption>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${title}: ${points.length} samples${latest ? `, latest ${format(latest.value)}` : ''}`}
      >
        <rect className="chart-area" width={width} height={height} />
        {limit !== null && limit <= top ? <line className="chart-limit" x1={0} x2={width} y1={y(limit)} y2={y(limit)} /> : null}
        {points.length > 1 ? <polyline points={line} vectorEffect="non-scaling-stroke" /> : null}
      </svg>
      <div className="chart-axis muted">
        <span>{age}</span>
        <span>max {format(largest)}</span>
      </div>
    </figure>
  )
}
