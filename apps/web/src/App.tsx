import { errorMessage } from './api/ApiError.js'
import { LoginForm } from './auth/LoginForm.js'
import { useSession } from './auth/useSession.js'
import { useSessionQuery } from './auth/useSessionQuery.js'
import { Dashboard } from './Dashboard.js'

/**
 * Asks the server for the session behind the cookie, then shows the
 * dashboard, or the login form when there is none.
 */
export function App() {
  const { status, session, notice } = useSession()
  const check = useSessionQuery(status)

  if (status === 'loading') {
    // A 401 moves the status to signedOut; other errors (such as the server
    // being down) stay here with a way to try again.
    return (
      <main className="login">
        <p className="muted" role="status">
          {check.isError ? errorMessage(check.error) : 'Checking the session…'}
        </p>
        {check.isError ? (
          <button type="button" onClick={() => void check.refetch()}>
            Try again
          </button>
        ) : null}
      </main>
    )
  }
  if (session === null) return <LoginForm notice={notice} />
  // A new session remounts the dashboard, so no state of the old one stays.
  return <Dashboard key={session.subject} session={session} />
}
