import { useId, useState } from 'react'
import { errorMessage } from '../api/ApiError.js'
import { useSignIn, type Credentials } from './useSignIn.js'

type Method = 'password' | 'token'

/** Renders the sign-in form, which takes a user name and password or an API token. */
export function LoginForm({ notice }: { notice: string | null }) {
  const [method, setMethod] = useState<Method>('password')
  const [name, setName] = useState('')
  const [password, setPassword] = useState('')
  const [token, setToken] = useState('')
  const signIn = useSignIn()
  const id = useId()

  const credentials: Credentials | null =
    method === 'token'
      ? token.trim() === ''
        ? null
        : { token: token.trim() }
      : name.trim() === '' || password === ''
        ? null
        : { name: name.trim(), password }

  return (
    <main className="login">
      <form
        className="login-form"
        onSubmit={(event) => {
          event.preventDefault()
          if (credentials !== null) signIn.mutate(credentials)
        }}
      >
        <h1>Blackhole</h1>
        {notice !== null && !signIn.isError ? (
          <p className="notice" role="status">
            {notice}
          </p>
        ) : null}
        <fieldset className="login-method">
          <legend>Sign in with</legend>
          <label>
            <input type="radio" name={`${id}-method`} checked={method === 'password'} onChange={() => setMethod('password')} />
            User account
          </label>
          <label>
            <input type="radio" name={`${id}-method`} checked={method === 'token'} onChange={() => setMethod('token')} />
            Token
          </label>
        </fieldset>
        {method === 'password' ? (
          <>
            <label htmlFor={`${id}-name`}>User name</label>
            <input
              id={`${id}-name`}
              autoComplete="username"
              value={name}
              onChange={(event) => setName(event.target.value)}
              required
              autoFocus
            />
            <label htmlFor={`${id}-password`}>Password</label>
            <input
              id={`${id}-password`}
              type="password"
              autoComplete="current-password"
              value={password}
              onChange={(event) => setPassword(event.target.value)}
              required
            />
          </>
        ) : (
          <>
            <p className="muted">An API token, such as BLACKHOLE_ADMIN_TOKEN on the server.</p>
            <label htmlFor={`${id}-token`}>API token</label>
            <input
              id={`${id}-token`}
              type="password"
              autoComplete="off"
              value={token}
              onChange={(event) => setToken(event.target.value)}
              required
              autoFocus
            />
          </>
        )}
        {signIn.isError ? (
          <p className="error" role="alert">
            {errorMessage(signIn.error)}
          </p>
        ) : null}
        <button type="submit" className="button-primary" disabled={signIn.isPending || credentials === null}>
          {signIn.isPending ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  )
}
