import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { apiRequest } from '../api/apiRequest.js'
import { useHasRole } from '../auth/useHasRole.js'
import { errorMessage } from '../api/ApiError.js'
import { downloadText } from '../profiles/downloadText.js'
import { formatTime } from '../ui/format.js'

interface VerifySummary {
  time: string
  actor: string
  ok: boolean
  records: number
  firstBad: { seq: number; kind: string; message: string } | null
  problemCount: number
}

interface AuditStatus {
  lastSeq: number | null
  lastTime: string | null
  lastHash: string | null
  records: number | null
  checkpoints: number
  lastCheckpoint: { seq: number; time: string; hash: string } | null
  lastVerify: VerifySummary | null
}

interface VerifyResponse {
  ok: boolean
  records: number
  firstBad: VerifySummary['firstBad']
  problemCount: number
  durationMs: number
  notes: string[]
}

/** The audit chain: its head, the last checkpoint, verify on request and the checkpoint export. */
export function AuditPage() {
  const queryClient = useQueryClient()
  const status = useQuery({
    queryKey: ['audit', 'status'],
    queryFn: ({ signal }) => apiRequest<AuditStatus>('/audit/status', { signal }),
    refetchInterval: 10_000,
  })
  const mayVerify = useHasRole('operator')
  const verify = useMutation({
    mutationFn: () => apiRequest<VerifyResponse>('/audit/verify', { method: 'POST' }),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: ['audit', 'status'] }),
  })
  const download = useMutation({
    mutationFn: async () => {
      const checkpoints = await apiRequest<unknown>('/audit/checkpoints')
      downloadText(`${JSON.stringify(checkpoints, null, 2)}\n`, 'audit-checkpoints.json', 'application/json')
    },
  })
  const data = status.data
  const last = data?.lastVerify ?? null

  return (
    <section className="panel" aria-labelledby="audit-heading">
      <div className="panel-header">
        <h2 id="audit-heading">Audit log</h2>
        {last !== null ? (
          <span className={last.ok ? 'badge badge-running' : 'badge badge-failed'} data-testid="chain-status">
            {last.ok ? 'chain ok' : 'chain broken'}
          </span>
        ) : (
          <span className="badge" data-testid="chain-status">
            not verified since start
          </span>
        )}
      </div>
      {status.isError ? <p className="error">{errorMessage(status.error)}</p> : null}
      {data ? (
        <dl className="facts">
          <div>
            <dt>Last record</dt>
            <dd className="numeric">{data.lastSeq === null ? '–' : `#${data.lastSeq}, ${formatTime(data.lastTime!)}`}</dd>
          </div>
          <div>
            <dt>Last hash</dt>
            <dd>
              <code title={data.lastHash ?? ''}>{data.lastHash?.slice(0, 16) ?? '–'}…</code>
            </dd>
          </div>
          <div>
            <dt>Last checkpoint</dt>
            <dd className="numeric" data-testid="last-checkpoint">
              {data.lastCheckpoint === null ? 'none yet' : `#${data.lastCheckpoint.seq}, ${formatTime(data.lastCheckpoint.time)}`}
            </dd>
          </div>
          <div>
            <dt>Checkpoints</dt>
            <dd className="numeric">{data.checkpoints}</dd>
          </div>
          <div>
            <dt>Last verify</dt>
            <dd>{last === null ? 'none' : `${formatTime(last.time)} by ${last.actor}, ${last.records} records`}</dd>
          </div>
        </dl>
      ) : null}
      <div className="toolbar">
        <button
          type="button"
          className="button-primary"
          disabled={!mayVerify || verify.isPending}
          title={mayVerify ? undefined : 'Verifying the chain needs the operator role'}
          onClick={() => verify.mutate()}
        >
          {verify.isPending ? 'Verifying…' : 'Verify chain'}
        </button>
        <button type="button" disabled={download.isPending} onClick={() => download.mutate()}>
          Download checkpoints
        </button>
      </div>
      <div role="status" className="verify-result" data-testid="verify-result">
        {verify.isError ? <p className="error">{errorMessage(verify.error)}</p> : null}
        {verify.isSuccess && verify.data.ok ? (
          <p className="success">
            OK: {verify.data.records} records verified in {verify.data.durationMs} ms.
          </p>
        ) : null}
        {verify.isSuccess && !verify.data.ok ? (
          <p className="error">
            Broken at record #{verify.data.firstBad?.seq}: {verify.data.firstBad?.kind}. {verify.data.firstBad?.message} ({verify.data.problemCount}{' '}
            problems)
          </p>
        ) : null}
        {verify.isSuccess && verify.data.notes.length > 0 ? <p className="muted">{verify.data.notes.join(' ')}</p> : null}
        {download.isError ? <p className="error">{errorMessage(download.error)}</p> : null}
      </div>
    </section>
  )
}
