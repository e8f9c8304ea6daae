import { errorMessage } from '../api/ApiError.js'
import type { ScoreLine } from '../api/types.js'
import { useProfileScore } from './useProfileScore.js'

/** The exposure score of a profile, from 0 (tightest) to 10, and what each setting adds. */
export function ScoreBreakdown({ name }: { name: string }) {
  const score = useProfileScore(name)
  if (score.isPending) return <p className="muted">Loading the score…</p>
  if (score.isError) return <p className="error">Score unavailable: {errorMessage(score.error)}</p>
  const { lines } = score.data
  const total = lines.reduce((sum, line) => sum + line.weight, 0)
  const shareOf = (line: ScoreLine) => (10 * line.weight * line.exposure) / total
  const sorted = [...lines].sort((a, b) => shareOf(b) - shareOf(a))
  const open = sorted.filter((line) => line.exposure > 0)
  const closed = sorted.filter((line) => line.exposure === 0)
  return (
    <div className="score">
      <p>
        Exposure score <strong className="score-value" data-testid="score-value">{score.data.score.toFixed(1)}</strong> of 10,{' '}
        <span className="badge">{score.data.rating}</span> <span className="muted">(lower is safer)</span>
      </p>
      <ScoreTable lines={open} shareOf={shareOf} />
      {closed.length > 0 ? (
        <details>
          <summary>{closed.length} settings that add nothing</summary>
          <ScoreTable lines={closed} shareOf={shareOf} />
        </details>
      ) : null}
    </div>
  )
}

/** Breaks a setting such as `resource_limits.max_memory` after its dots and underscores only. */
function settingName(setting: string) {
  const parts = setting.split(/(?<=[._])/)
  return parts.map((part, i) => (
    <span key={i}>
      {part}
      {i < parts.length - 1 ? <wbr /> : null}
    </span>
  ))
}

function ScoreTable({ lines, shareOf }: { lines: ScoreLine[]; shareOf: (line: ScoreLine) => number }) {
  return (
    <table className="compact score-table">
      <thead>
        <tr>
          <th scope="col">Setting</th>
          <th scope="col">Adds</th>
          <th scope="col">Reason</th>
        </tr>
      </thead>
      <tbody>
        {lines.map((line) => (
          <tr key={line.setting}>
            <td>
              <code>{settingName(line.setting)}</code>
            </td>
            <td className="numeric score-share">
              <span className="score-bar" style={{ width: `${Math.min(40, shareOf(line) * 40)}px` }} aria-hidden="true" />
              {shareOf(line).toFixed(2)}
            </td>
            <td>{line.reason}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}
