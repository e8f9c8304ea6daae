import { hasRole, type Role } from './session.js'
import { useSession } from './useSession.js'

/**
 * Returns true when the signed-in role is `least` or above. The dashboard
 * uses it to hide or disable what the server would reject with 403; the
 * server still checks every request.
 */
export function useHasRole(least: Role): boolean {
  const { session } = useSession()
  return session !== null && hasRole(session.role, least)
}
