import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { apiRequest } from '../api/apiRequest.js'
import { ApiError, errorMessage } from '../api/ApiError.js'
import { useHasRole } from '../auth/useHasRole.js'
import type { ProfileIssue } from '../api/types.js'
import { ExportPanel } from './ExportPanel.js'
import { ScoreBreakdown } from './ScoreBreakdown.js'
import { useProfileValidation } from './useProfileValidation.js'
import { VersionHistory, type VersionsResponse } from './VersionHistory.js'
import { YamlEditor } from './YamlEditor.js'

interface SaveResponse {
  version: number
  created: boolean
  message: string
  /** What happens to the config file, which the save does not rewrite. */
  configFile: string
}

/** The editor of one profile: validation as you type, save as a new version, history, exports and score. */
export function ProfileEditor({ name }: { name: string }) {
  const queryClient = useQueryClient()
  const path = `/profiles/${encodeURIComponent(name)}`
  const profile = useQuery({
    queryKey: ['profiles', name],
    queryFn: ({ signal }) => apiRequest<{ yaml: string | null }>(path, { signal }),
  })
  const versions = useQuery({
    queryKey: ['profiles', name, 'versions'],
    queryFn: ({ signal }) => apiRequest<VersionsResponse>(`${path}/versions`, { signal }),
  })
  const [draft, setDraft] = useState<string | null>(null)
  const stored = profile.data?.yaml ?? ''
  const text = draft ?? stored
  const dirty = draft !== null && draft !== stored
  const mayEdit = useHasRole('operator')
  const maySave = useHasRole('admin')
  const validation = useProfileValidation(name, text, dirty && mayEdit)

  const save = useMutation({
    mutationFn: (yaml: string) => apiRequest<SaveResponse>(path, { method: 'PUT', body: { yaml } }),
    onSuccess: () => {
      setDraft(null)
      void queryClient.invalidateQueries({ queryKey: ['profiles', name] })
    },
  })
  const saveErrors =
    save.error instanceof ApiError && save.error.code === 'INVALID_PROFILE' ? ((save.error.details?.errors as ProfileIssue[] | undefined) ?? []) : []
  const errors = dirty ? (validation.data?.errors ?? []) : saveErrors

  return (
    <>
      <section className="panel" aria-labelledby="editor-heading">
        <div className="panel-header">
          <h2 id="editor-heading">Profile {name}</h2>
          <span className="muted">
            {versions.data?.currentVersion ? `version ${versions.data.currentVersion}` : ''}
            {dirty ? ', edited' : ''}
          </span>
          <span className="validation-state" role="status" data-testid="validation-state">
            {!dirty ? '' : validation.isFetching ? 'Checking…' : validation.isError ? errorMessage(validation.error) : validation.data?.ok ? `Valid, score ${validation.data.score?.toFixed(1)}` : `${errors.length} ${errors.length === 1 ? 'error' : 'errors'}`}
          </span>
        </div>
        {profile.isError ? <p className="error">{errorMessage(profile.error)}</p> : null}
        <YamlEditor label={`YAML of profile ${name}`} value={text} errors={errors} onChange={setDraft} readOnly={!mayEdit} />
        <div className="toolbar">
          <button type="button" className="button-primary" disabled={!maySave || !dirty || save.isPending || validation.data?.ok === false}
            title={maySave ? undefined : 'Saving a profile needs the admin role'}
            onClick={() => save.mutate(text)}
          >
            {save.isPending ? 'Saving…' : 'Save as new version'}
          </button>
          <button type="button" disabled={!dirty} onClick={() => setDraft(null)}>
            Discard changes
          </button>
          <p role="status" className="action-result" data-testid="save-result">
            {save.isSuccess ? <span className="success">{save.data.message}</span> : null}
            {save.isSuccess ? <span className="muted save-note"> Config file {save.data.configFile}.</span> : null}
            {save.isError ? <span className="error">{errorMessage(save.error).split('\n')[0]}</span> : null}
          </p>
        </div>
        <p className="muted">
          {maySave
            ? 'Tab indents; press Escape, then Tab, to leave the editor. Running services keep their profile until they restart.'
            : mayEdit
              ? 'Saving needs the admin role; your edits are validated but cannot be saved.'
              : 'Read only: editing needs the operator role and saving the admin role.'}
        </p>
      </section>
      <div className="two-columns">
        <VersionHistory name={name} versions={versions.data} />
        <section className="panel" aria-labelledby="profile-score-heading">
          <div className="panel-header">
            <h2 id="profile-score-heading">Exposure</h2>
          </div>
          <ScoreBreakdown name={name} />
        </section>
      </div>
      <ExportPanel name={name} />
    </>
  )
}
