export interface BarChartProps {
  values: number[]
  label: string
  height?: number
}

/** A row of bars scaled to the largest value, as one SVG that stretches to its container. */
export function BarChart({ values, label, height = 60 }: BarChartProps) {
  const top = Math.max(1, ...values)
  const width = values.length * 4
  return (
    <svg className="bar-chart" viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label={label} height={height}>
      {values.map((value, i) => {
        const barHeight = (value / top) * (height - 2)
        return <rect key={i} x={i * 4 + 0.5} y={height - barHeight} width={3} height={barHeight} />
      })}
    </svg>
  )
}
