import { useQuery } from '@tanstack/react-query'
import { useState } from 'react'
import { apiRequest } from '../api/apiRequest.js'
import { errorMessage } from '../api/ApiError.js'
import { downloadText } from './downloadText.js'

interface ExportResponse {
  text: string
  warnings: string[]
  fileName: string
  mediaType: string
}

const formats = ['apparmor', 'seccomp', 'systemd', 'oci', 'sbpl', 'windows'] as const

/** The profile in one of the six export formats, with what the format cannot express. */
export function ExportPanel({ name }: { name: string }) {
  const [format, setFormat] = useState<(typeof formats)[number]>('systemd')
  const exported = useQuery({
    queryKey: ['profiles', name, 'export', format],
    queryFn: ({ signal }) => apiRequest<ExportResponse>(`/profiles/${encodeURIComponent(name)}/export?format=${format}`, { signal }),
  })
  return (
    <section className="panel" aria-labelledby="export-heading">
      <div className="panel-header">
        <h2 id="export-heading">Export</h2>
        <label>
          Format{' '}
          <select value={format} onChange={(event) => setFormat(event.target.value as (typeof formats)[number])}>
            {formats.map((name) => (
              <option key={name}>{name}</option>
            ))}
          </select>
        </label>
        <button
          type="button"
          disabled={exported.data === undefined}
          onClick={() => {
            if (exported.data) downloadText(exported.data.text, exported.data.fileName.replace(/\//g, '_'), exported.data.mediaType)
          }}
        >
          Download {exported.data?.fileName ?? ''}
        </button>
      </div>
      {exported.isError ? <p className="error">{errorMessage(exported.error)}</p> : null}
      {exported.data && exported.data.warnings.length > 0 ? (
        <ul className="warnings" aria-label="Export warnings">
          {exported.data.warnings.map((warning) => (
            <li key={warning} className="notice">
              {warning}
            </li>
          ))}
        </ul>
      ) : null}
      <pre className="export-text">{exported.data?.text}</pre>
    </section>
  )
}
