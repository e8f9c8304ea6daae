import { useQuery } from '@tanstack/react-query'
import { apiRequest } from '../api/apiRequest.js'
import { errorMessage } from '../api/ApiError.js'
import { ProfileEditor } from './ProfileEditor.js'

interface ProfileSummary {
  name: string
  enforceMode: string
  networkMode: string
}

/** The profiles: a list, and for the chosen one its editor, versions, exports and score. */
export function ProfilesPage({ name }: { name: string | null }) {
  const profiles = useQuery({
    queryKey: ['profiles'],
    queryFn: ({ signal }) => apiRequest<ProfileSummary[]>('/profiles', { signal }),
  })
  const chosen = name ?? profiles.data?.[0]?.name ?? null

  return (
    <>
      <nav className="panel tabs" aria-label="Profiles">
        <h2>Profiles</h2>
        {profiles.isError ? <p className="error">{errorMessage(profiles.error)}</p> : null}
        {profiles.data?.map((profile) => (
          <a key={profile.name} href={`#/profiles/${encodeURIComponent(profile.name)}`} aria-current={profile.name === chosen ? 'page' : undefined} className="nav-link">
            {profile.name} <span className="muted">({profile.enforceMode})</span>
          </a>
        ))}
      </nav>
      {chosen !== null ? <ProfileEditor key={chosen} name={chosen} /> : null}
    </>
  )
}
