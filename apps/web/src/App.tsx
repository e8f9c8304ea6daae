import { LoginForm } from './auth/LoginForm.js'
import { useToken } from './auth/useToken.js'
import { Dashboard } from './Dashboard.js'

/** Shows the login form until a token is stored, then the dashboard. */
export function App() {
  const { token, notice } = useToken()
  if (token === null) return <LoginForm notice={notice} />
  // A new token remounts the dashboard, so no state of the old session stays.
  return <Dashboard key={token} token={token} />
}
