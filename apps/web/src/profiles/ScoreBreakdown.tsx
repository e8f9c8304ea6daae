import { errorMessage } from '../api/ApiError.js'
import { useProfileScore } from './useProfileScore.js'

/** The exposure score of a profile, from 0 (tightest) to 10, and what each setting adds. */
export function ScoreBreakdown({ name }: { name: string }) {
  const score = useProfileScore(name)
  if (score.isPending) return <p className="muted">Loading the score…</p>
  if (score.isError) return <p className="error">Score unavailable: {errorMessage(score.error)}</p>
  const { lines } = score.data
  const total = lines.reduce((sum, line) => sum + line.weight, 0)
  const sorted = [...lines].sort((a, b) => b.weight * b.exposure - a.weight * a.exposure)
  return (
    <div className="score">
      <p>
        Exposure score <strong className="score-value" data-testid="score-value">{score.data.score.toFixed(1)}</strong> of 10,{' '}
        <span className="badge">{score.data.rating}</span> <span className="muted">(lower is safer)</span>
      </p>
      <table className="compact">
        <thead>
          <tr>
            <th scope="col">Setting</th>
            <th scope="col">Adds</th>
            <th scope="col">Reason</th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((line) => {
            const share = (10 * line.weight * line.exposure) / total
            return (
              <tr key={line.setting}>
                <td>
                  <code>{line.setting}</code>
                </td>
                <td className="numeric">
                  <span className="score-bar" style={{ width: `${Math.min(100, share * 40)}px` }} aria-hidden="true" />
                  {share.toFixed(2)}
                </td>
                <td>{line.reason}</td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}
