import type { ResourceSample } from '../api/types.js'
import { formatBytes, formatPercent } from '../ui/format.js'
import { LineChart, type LineChartPoint } from '../ui/LineChart.js'
import { useServiceHistory } from './useServiceHistory.js'
import { useServiceMetrics } from './useServiceMetrics.js'

interface Series {
  cpu: LineChartPoint[]
  memory: LineChartPoint[]
  pids: LineChartPoint[]
  fds: LineChartPoint[]
}

/**
 * Joins the stored history with the stream's newer samples. Minute
 * aggregates chart their averages; descriptors come only from the history,
 * because stream samples do not carry them.
 */
function mergeSeries(history: ReturnType<typeof useServiceHistory>['data'], live: ResourceSample[]): Series {
  const series: Series = { cpu: [], memory: [], pids: [], fds: [] }
  let lastTime = 0
  if (history?.resolution === 'second') {
    for (const sample of history.samples) {
      series.cpu.push({ time: sample.time, value: sample.cpuPercent })
      series.memory.push({ time: sample.time, value: sample.memoryBytes })
      series.pids.push({ time: sample.time, value: sample.pids })
      if (sample.fds !== null) series.fds.push({ time: sample.time, value: sample.fds })
      lastTime = sample.time
    }
  } else if (history?.resolution === 'minute') {
    for (const sample of history.samples) {
      series.cpu.push({ time: sample.time, value: sample.cpuPercentAvg })
      series.memory.push({ time: sample.time, value: sample.memoryBytesAvg })
      series.pids.push({ time: sample.time, value: sample.pidsAvg })
      if (sample.fdsAvg !== null) series.fds.push({ time: sample.time, value: sample.fdsAvg })
      lastTime = sample.time
    }
  }
  for (const sample of live) {
    if (sample.time <= lastTime) continue
    series.cpu.push({ time: sample.time, value: sample.cpuPercent })
    series.memory.push({ time: sample.time, value: sample.memoryBytes })
    series.pids.push({ time: sample.time, value: sample.pids })
  }
  return series
}

/** CPU, memory, pids and descriptors of one service over the last ten minutes, kept live by the stream. */
export function ServiceCharts({ name }: { name: string }) {
  const history = useServiceHistory(name)
  const live = useServiceMetrics(name)
  const series = mergeSeries(history.data, live)
  const latest = live.at(-1)
  const count = (value: number) => String(Math.round(value))

  return (
    <section className="panel" aria-labelledby="charts-heading">
      <div className="panel-header">
        <h2 id="charts-heading">Resources</h2>
        <span className="muted">last 10 minutes{history.data?.resolution === 'minute' ? ', per minute' : ''}</span>
      </div>
      {history.isError ? <p className="error">History unavailable: {history.error.message}</p> : null}
      <div className="chart-grid">
        <LineChart title="CPU" points={series.cpu} format={formatPercent} minScale={10} />
        <LineChart title="Memory" points={series.memory} format={formatBytes} limit={latest?.memoryLimitBytes ?? null} />
        <LineChart title="Processes" points={series.pids} format={count} minScale={4} limit={latest?.pidsLimit ?? null} />
        <LineChart title="Descriptors" points={series.fds} format={count} minScale={8} />
      </div>
    </section>
  )
}
