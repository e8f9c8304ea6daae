import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { PrismaClient } from '../generated/prisma/client.js'

export type Role = 'admin' | 'operator' | 'viewer'

export const ROLES: readonly Role[] = ['admin', 'operator', 'viewer']

/** A stored token without its hash. */
export interface TokenIdentity {
  id: number
  name: string
  role: Role
}

/** Name of the token created on the first start. */
export const ADMIN_TOKEN_NAME = 'admin'

// lastUsedAt is informational, so a write per request is not worth its cost.
const LAST_USED_RESOLUTION_MS = 60_000

/** Returns the hex SHA-256 of a token, the only form the database stores. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

/** Returns a new random token: `bh_` and 32 random bytes in base64url. */
export function generateToken(): string {
  return `bh_${randomBytes(32).toString('base64url')}`
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value)
}

/** Stores a new token's hash and returns the token, which is not kept anywhere. */
export async function createToken(
  prisma: PrismaClient,
  name: string,
  role: Role,
  token = generateToken(),
): Promise<{ token: string; identity: TokenIdentity }> {
  const row = await prisma.apiToken.create({ data: { name, role, tokenHash: hashToken(token) } })
  return { token, identity: { id: row.id, name: row.name, role } }
}

/**
 * Creates the admin token when no token exists yet. `presetToken` (from
 * BLACKHOLE_ADMIN_TOKEN) is stored instead of a random one. Returns the
 * token when one was created, null on later starts.
 */
export async function ensureAdminToken(
  prisma: PrismaClient,
  presetToken: string | undefined,
): Promise<{ token: string; preset: boolean } | null> {
  if ((await prisma.apiToken.count()) > 0) return null
  const preset = presetToken !== undefined && presetToken !== ''
  if (preset) checkPresetToken(presetToken)
  const { token } = await createToken(prisma, ADMIN_TOKEN_NAME, 'admin', preset ? presetToken : undefined)
  return { token, preset }
}

/** Shortest BLACKHOLE_ADMIN_TOKEN accepted: a valid token passes the per-address rate limit, so it must not be guessable. */
export const MIN_PRESET_TOKEN_LENGTH = 16

/**
 * Rejects a preset admin token that could be guessed or could never be sent:
 * a bearer token is one run of visible ASCII characters.
 */
export function checkPresetToken(token: string): void {
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new Error('invalid BLACKHOLE_ADMIN_TOKEN: use visible ASCII characters only, without spaces (a bearer token cannot contain them)')
  }
  if (token.length < MIN_PRESET_TOKEN_LENGTH) {
    throw new Error(
      `invalid BLACKHOLE_ADMIN_TOKEN: ${token.length} characters is too short to resist guessing; use at least ${MIN_PRESET_TOKEN_LENGTH}, for example \`openssl rand -hex 24\``,
    )
  }
}

/**
 * Finds the unrevoked token matching `token`. Every stored hash is compared
 * with timingSafeEqual and the loop never exits early, so the time taken
 * does not depend on which hash matched or how many leading bytes did.
 */
export async function findToken(prisma: PrismaClient, token: string): Promise<TokenIdentity | null> {
  const presented = Buffer.from(hashToken(token), 'hex')
  const rows = await prisma.apiToken.findMany({
    where: { revokedAt: null },
    select: { id: true, name: true, role: true, tokenHash: true, lastUsedAt: true },
  })
  let match: (typeof rows)[number] | null = null
  for (const row of rows) {
    const stored = Buffer.from(row.tokenHash, 'hex')
    if (stored.length === presented.length && timingSafeEqual(stored, presented)) match = row
  }
  if (match === null || !isRole(match.role)) return null
  const now = Date.now()
  if (match.lastUsedAt === null || now - match.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) {
    await prisma.apiToken.update({ where: { id: match.id }, data: { lastUsedAt: new Date(now) } })
  }
  return { id: match.id, name: match.name, role: match.role }
}
