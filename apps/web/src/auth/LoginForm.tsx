import { useId, useState } from 'react'
import { errorMessage } from '../api/ApiError.js'
import { useSignIn } from './useSignIn.js'

/** The sign-in form: one field for the API's bearer token. */
export function LoginForm({ notice }: { notice: string | null }) {
  const [token, setToken] = useState('')
  const signIn = useSignIn()
  const inputId = useId()

  return (
    <main className="login">
      <form
        className="login-form"
        onSubmit={(event) => {
          event.preventDefault()
          const trimmed = token.trim()
          if (trimmed !== '') signIn.mutate(trimmed)
        }}
      >
        <h1>Blackhole</h1>
        <p className="muted">Sign in with the API token (BLACKHOLE_ADMIN_TOKEN on the server).</p>
        {notice !== null && !signIn.isError ? (
          <p className="notice" role="status">
            {notice}
          </p>
        ) : null}
        <label htmlFor={inputId}>API token</label>
        <input
          id={inputId}
          type="password"
          autoComplete="current-password"
          value={token}
          onChange={(event) => setToken(event.target.value)}
          required
          autoFocus
        />
        {signIn.isError ? (
          <p className="error" role="alert">
            {errorMessage(signIn.error)}
          </p>
        ) : null}
        <button type="submit" className="button-primary" disabled={signIn.isPending || token.trim() === ''}>
          {signIn.isPending ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  )
}
