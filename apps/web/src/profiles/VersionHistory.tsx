import { useQuery } from '@tanstack/react-query'
import { useState } from 'react'
import { apiRequest } from '../api/apiRequest.js'
import { errorMessage } from '../api/ApiError.js'
import type { DiffLine } from '../api/types.js'
import { formatTime } from '../ui/format.js'
import { diffHunks } from './diffHunks.js'

export interface VersionsResponse {
  currentVersion: number | null
  versions: { version: number; sha256: string; author: string; createdAt: string }[]
}

interface DiffResponse {
  added: number
  removed: number
  lines: DiffLine[]
}

const marks: Record<DiffLine['op'], string> = { same: ' ', added: '+', removed: '-' }

/** The stored versions of a profile and a line diff between any two of them. */
export function VersionHistory({ name, versions }: { name: string; versions: VersionsResponse | undefined }) {
  const list = versions?.versions ?? []
  const newest = list[0]?.version ?? null
  const [picked, setPicked] = useState<{ from: number | null; to: number | null }>({ from: null, to: null })
  const to = picked.to ?? newest
  const from = picked.from ?? (newest !== null && newest > 1 ? newest - 1 : newest)
  const diff = useQuery({
    queryKey: ['profiles', name, 'diff', from, to],
    queryFn: ({ signal }) => apiRequest<DiffResponse>(`/profiles/${encodeURIComponent(name)}/diff?from=${from}&to=${to}`, { signal }),
    enabled: from !== null && to !== null,
  })

  const versionSelect = (label: string, value: number | null, onChange: (version: number) => void) => (
    <label>
      {label}{' '}
      <select value={value ?? ''} onChange={(event) => onChange(Number(event.target.value))}>
        {list.map((version) => (
          <option key={version.version} value={version.version}>
            v{version.version}
          </option>
        ))}
      </select>
    </label>
  )

  return (
    <section className="panel" aria-labelledby="versions-heading">
      <div className="panel-header">
        <h2 id="versions-heading">Versions</h2>
      </div>
      <table className="compact">
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Author</th>
            <th scope="col">Saved</th>
          </tr>
        </thead>
        <tbody data-testid="version-list">
          {list.map((version) => (
            <tr key={version.version}>
              <td className="numeric">
                v{version.version}
                {version.version === versions?.currentVersion ? <span className="muted"> (current)</span> : null}
              </td>
              <td>{version.author}</td>
              <td>{formatTime(version.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.length > 1 ? (
        <>
          <div className="toolbar">
            {versionSelect('Diff from', from, (version) => setPicked({ from: version, to }))}
            {versionSelect('to', to, (version) => setPicked({ from, to: version }))}
            {diff.data ? (
              <span className="muted">
                +{diff.data.added} −{diff.data.removed}
              </span>
            ) : null}
          </div>
          {diff.isError ? <p className="error">{errorMessage(diff.error)}</p> : null}
          <pre className="diff" aria-label={`Diff of v${from} and v${to}`} data-testid="profile-diff">
            {diff.data
              ? diffHunks(diff.data.lines).map((row, i) =>
                  row.kind === 'skip' ? (
                    <div key={i} className="diff-skip">
                      … {row.count} unchanged {row.count === 1 ? 'line' : 'lines'}
                    </div>
                  ) : (
                    <div key={i} className={`diff-${row.line.op}`}>
                      {marks[row.line.op]} {row.line.text}
                    </div>
                  ),
                )
              : null}
          </pre>
        </>
      ) : (
        <p className="muted">Save a change to compare versions.</p>
      )}
    </section>
  )
}
