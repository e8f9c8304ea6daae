/** The three roles the server defines, lowest first. */
export type Role = 'viewer' | 'operator' | 'admin'

/** The body of POST /api/v1/auth/login and GET /api/v1/auth/session. */
export interface Session {
  /** The user or token name. */
  user: string
  /** `user:<name>` or `token:<name>`, the actor in audit records. */
  subject: string
  role: Role
  /** Sent as X-CSRF-Token on writes; kept in memory only. */
  csrfToken: string | null
  /** ISO time when the session lapses unless used; the server slides it on use. */
  expiresAt: string | null
}

const rank: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 }

/** Returns true when `role` is `least` or above, the rule the server applies per route. */
export function hasRole(role: Role, least: Role): boolean {
  return rank[role] >= rank[least]
}
