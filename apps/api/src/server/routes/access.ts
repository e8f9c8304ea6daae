// Role checks and small schema pieces shared by the console routes.

import type { FastifyRequest } from 'fastify'
import type { Role } from '../../db/tokens.js'
import { apiError } from '../errors.js'

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 }

/**
 * Throws FORBIDDEN unless the caller's role is `least` or above. The auth
 * hook already rejects viewers on anything but GET; this check separates
 * operators from admins.
 */
export function requireRole(request: FastifyRequest, least: Role, action: string): void {
  const role = request.role
  if (role !== null && RANK[role] >= RANK[least]) return
  const name = request.identity?.name ?? '(none)'
  throw apiError('FORBIDDEN', `token "${name}" has the ${role ?? 'no'} role and may not ${action}; use a token with the ${least} role or above`)
}

export const profileNameParams = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1, maxLength: 64 } },
  required: ['name'],
  additionalProperties: false,
} as const

export const serviceNameParams = profileNameParams
