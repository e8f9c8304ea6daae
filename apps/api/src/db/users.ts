// Dashboard users, their browser sessions and the token list, written
// through better-sqlite3 on the server's own connection: the generated
// Prisma client predates these tables, and the session lookup runs on
// every cookie-authenticated request.

import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto'
import type Database from 'better-sqlite3'
import { generateToken, hashToken, isRole, type Role } from './tokens.js'

/** scrypt cost parameters: N=2^15 with r=8 takes about 32 MiB and 50-100 ms per hash. */
const SCRYPT = { N: 32768, r: 8, p: 1, keyLength: 32 }
const SCRYPT_MAXMEM = 64 * 1024 * 1024

export const MIN_PASSWORD_LENGTH = 8
export const MAX_PASSWORD_LENGTH = 1024
export const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/

/** A browser session lasts 12 hours after its last use. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000
// The expiry moves at most once a minute, so a busy session does not cost
// a database write per request. The sliding window is then exact to a minute.
const SESSION_RENEW_MS = 60_000

// Each scrypt call holds about 32 MiB, so a burst of parallel sign-ins
// queues here instead of allocating memory for all of them at once.
const MAX_CONCURRENT_SCRYPT = 4
let runningScrypt = 0
const waitingScrypt: (() => void)[] = []

async function scrypt(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  if (runningScrypt >= MAX_CONCURRENT_SCRYPT) await new Promise<void>((resolve) => waitingScrypt.push(resolve))
  runningScrypt++
  try {
    return await new Promise((resolve, reject) => {
      scryptCallback(password, salt, keyLength, options, (error, key) => (error ? reject(error) : resolve(key)))
    })
  } finally {
    runningScrypt--
    waitingScrypt.shift()?.()
  }
}

/** Returns how many scrypt calls run now; for tests. */
export function scryptInFlight(): number {
  return runningScrypt
}

/** Returns `scrypt$N$r$p$salt$key` for a password, with a random 16-byte salt. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const { N, r, p, keyLength } = SCRYPT
  const key = await scrypt(password, salt, keyLength, { N, r, p, maxmem: SCRYPT_MAXMEM })
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${key.toString('base64url')}`
}

/** Returns true when `password` matches a hash from hashPassword; false for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number]
  const salt = Buffer.from(parts[4]!, 'base64url')
  const expected = Buffer.from(parts[5]!, 'base64url')
  if (![N, r, p].every(Number.isSafeInteger) || expected.length === 0) return false
  const key = await scrypt(password, salt, expected.length, { N, r, p, maxmem: SCRYPT_MAXMEM })
  return timingSafeEqual(key, expected)
}

export interface User {
  name: string
  role: Role
  disabled: boolean
  createdAt: string
}

interface UserRow {
  name: string
  role: string
  passwordHash: string
  disabled: number
  createdAt: string
}

function toUser(row: UserRow): User {
  return { name: row.name, role: isRole(row.role) ? row.role : 'viewer', disabled: row.disabled !== 0, createdAt: row.createdAt }
}

/** An error with a stable code and HTTP status, which the server's error handler sends as is. */
export class StoreError extends Error {
  constructor(
    readonly code: string,
    readonly statusCode: number,
    message: string,
  ) {
    super(message)
    this.name = 'StoreError'
  }
}

/** Checks a new password's length; throws INVALID_REQUEST naming the limits. */
export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw new StoreError(
      'INVALID_REQUEST',
      400,
      `password: must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters long, got ${password.length}`,
    )
  }
}

export class UserStore {
  constructor(private readonly db: Database.Database) {}

  list(): User[] {
    const rows = this.db.prepare('SELECT * FROM User ORDER BY name').all() as UserRow[]
    return rows.map(toUser)
  }

  get(name: string): User | null {
    const row = this.db.prepare('SELECT * FROM User WHERE name = ?').get(name) as UserRow | undefined
    return row === undefined ? null : toUser(row)
  }

  /** Creates a user; throws USER_EXISTS (409) when the name is taken. */
  async create(name: string, role: Role, password: string): Promise<User> {
    if (!USER_NAME.test(name)) {
      throw new StoreError('INVALID_REQUEST', 400, `name: "${name}" is invalid; use 1 to 64 letters, digits and . _ @ - (not first)`)
    }
    checkPassword(password)
    const passwordHash = await hashPassword(password)
    if (this.get(name) !== null) throw new StoreError('USER_EXISTS', 409, `user "${name}" already exists; change it with PATCH /api/v1/users/${name}`)
    this.db
      .prepare('INSERT INTO User (name, role, passwordHash, disabled, createdAt) VALUES (?, ?, ?, 0, ?)')
      .run(name, role, passwordHash, new Date().toISOString())
    return this.get(name)!
  }

  /** Changes a user's role, disabled flag or password; throws USER_NOT_FOUND (404). */
  async update(name: string, change: { role?: Role; disabled?: boolean; password?: string }): Promise<User> {
    if (this.get(name) === null) throw new StoreError('USER_NOT_FOUND', 404, `user "${name}" not found; list users with GET /api/v1/users`)
    if (change.password !== undefined) checkPassword(change.password)
    const passwordHash = change.password === undefined ? null : await hashPassword(change.password)
    this.db.transaction(() => {
      if (change.role !== undefined) this.db.prepare('UPDATE User SET role = ? WHERE name = ?').run(change.role, name)
      if (change.disabled !== undefined) this.db.prepare('UPDATE User SET disabled = ? WHERE name = ?').run(change.disabled ? 1 : 0, name)
      if (passwordHash !== null) this.db.prepare('UPDATE User SET passwordHash = ? WHERE name = ?').run(passwordHash, name)
      // A disabled user or a new password ends every session at once.
      if (change.disabled === true || passwordHash !== null) this.db.prepare('DELETE FROM Session WHERE userName = ?').run(name)
    })()
    return this.get(name)!
  }

  /**
   * Returns the user when the name and password match an enabled user, else
   * null. An unknown name still costs one scrypt, so timing does not reveal
   * which names exist.
   */
  async authenticate(name: string, password: string): Promise<User | null> {
    const row = this.db.prepare('SELECT * FROM User WHERE name = ?').get(name) as UserRow | undefined
    if (row === undefined) {
      await hashPassword(password)
      return null
    }
    const ok = await verifyPassword(password, row.passwordHash)
    return ok && row.disabled === 0 ? toUser(row) : null
  }

  /** Returns true when the token's owner exists and is disabled. */
  tokenOwnerDisabled(tokenId: number): boolean {
    const row = this.db
      .prepare('SELECT u.disabled AS disabled FROM ApiToken t JOIN User u ON u.name = t.userName WHERE t.id = ?')
      .get(tokenId) as { disabled: number } | undefined
    return row !== undefined && row.disabled !== 0
  }
}

export interface TokenInfo {
  id: number
  name: string
  role: Role
  /** The owning user; null for a standalone token. */
  user: string | null
  createdAt: string
  lastUsedAt: string | null
  revokedAt: string | null
}

interface TokenRow {
  id: number
  name: string
  role: string
  userName: string | null
  createdAt: unknown
  lastUsedAt: unknown
  revokedAt: unknown
}

// Prisma's SQLite adapter writes DateTime as ISO 8601 text with an offset,
// and SQLite's CURRENT_TIMESTAMP default as `YYYY-MM-DD HH:MM:SS` in UTC.
function isoTime(value: unknown): string | null {
  if (value === null || value === undefined) return null
  if (typeof value === 'number') return new Date(value).toISOString()
  const text = String(value)
  const parsed = new Date(text.includes('T') || text.endsWith('Z') ? text : `${text.replace(' ', 'T')}Z`)
  return Number.isNaN(parsed.getTime()) ? text : parsed.toISOString()
}

export class TokenStore {
  constructor(private readonly db: Database.Database) {}

  /** Returns every token, newest first, without its hash. */
  list(): TokenInfo[] {
    const rows = this.db
      .prepare('SELECT id, name, role, userName, createdAt, lastUsedAt, revokedAt FROM ApiToken ORDER BY id DESC')
      .all() as TokenRow[]
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      role: isRole(row.role) ? row.role : 'viewer',
      user: row.userName,
      createdAt: isoTime(row.createdAt)!,
      lastUsedAt: isoTime(row.lastUsedAt),
      revokedAt: isoTime(row.revokedAt),
    }))
  }

  get(id: number): TokenInfo | null {
    return this.list().find((token) => token.id === id) ?? null
  }

  /** Stores a new token's hash and returns the token once, with its listing. */
  create(name: string, role: Role, user: string | null): { token: string; info: TokenInfo } {
    const token = generateToken()
    const result = this.db
      .prepare('INSERT INTO ApiToken (name, role, tokenHash, createdAt, userName) VALUES (?, ?, ?, ?, ?)')
      .run(name, role, hashToken(token), new Date().toISOString(), user)
    return { token, info: this.get(Number(result.lastInsertRowid))! }
  }

  /** Revokes a token and ends its sessions; throws TOKEN_NOT_FOUND (404). Revoking twice keeps the first time. */
  revoke(id: number): TokenInfo {
    const existing = this.get(id)
    if (existing === null) throw new StoreError('TOKEN_NOT_FOUND', 404, `token ${id} not found; list tokens with GET /api/v1/tokens`)
    this.db.transaction(() => {
      this.db.prepare('UPDATE ApiToken SET revokedAt = ? WHERE id = ? AND revokedAt IS NULL').run(new Date().toISOString(), id)
      this.db.prepare('DELETE FROM Session WHERE tokenId = ?').run(id)
    })()
    return this.get(id)!
  }

  /** Returns true when the token exists and is not revoked. */
  active(id: number): boolean {
    const row = this.db.prepare('SELECT revokedAt FROM ApiToken WHERE id = ?').get(id) as { revokedAt: unknown } | undefined
    return row !== undefined && row.revokedAt === null
  }
}

export interface Session {
  /** `user:NAME` or `token:NAME`, the actor in audit records. */
  subject: string
  role: Role
  userName: string | null
  tokenId: number | null
  csrfToken: string
  expiresAt: string
}

interface SessionRow {
  id: number
  subject: string
  role: string
  userName: string | null
  tokenId: number | null
  csrfToken: string
  expiresAt: string
}

function sessionHash(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex')
}

export class SessionStore {
  constructor(
    private readonly db: Database.Database,
    private readonly ttlMs = SESSION_TTL_MS,
  ) {}

  /** Creates a session and returns its random id (for the cookie) with the session. */
  create(subject: string, role: Role, owner: { userName?: string; tokenId?: number }, now = Date.now()): { id: string; session: Session } {
    const id = randomBytes(32).toString('base64url')
    const csrfToken = randomBytes(32).toString('base64url')
    const expiresAt = new Date(now + this.ttlMs).toISOString()
    this.db.prepare('DELETE FROM Session WHERE expiresAt <= ?').run(new Date(now).toISOString())
    this.db
      .prepare(
        'INSERT INTO Session (idHash, subject, role, userName, tokenId, csrfToken, createdAt, expiresAt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(sessionHash(id), subject, role, owner.userName ?? null, owner.tokenId ?? null, csrfToken, new Date(now).toISOString(), expiresAt)
    return {
      id,
      session: { subject, role, userName: owner.userName ?? null, tokenId: owner.tokenId ?? null, csrfToken, expiresAt },
    }
  }

  /**
   * Returns the unexpired session with this id and moves its expiry to
   * now + TTL (sliding renewal), or null. A user session takes its user's
   * current role, so a role change applies to signed-in users at once.
   */
  find(id: string, now = Date.now()): Session | null {
    const row = this.db.prepare('SELECT * FROM Session WHERE idHash = ?').get(sessionHash(id)) as SessionRow | undefined
    if (row === undefined) return null
    const expires = Date.parse(row.expiresAt)
    if (expires <= now) {
      this.db.prepare('DELETE FROM Session WHERE id = ?').run(row.id)
      return null
    }
    let role = isRole(row.role) ? row.role : 'viewer'
    if (row.userName !== null) {
      const user = this.db.prepare('SELECT role, disabled FROM User WHERE name = ?').get(row.userName) as
        | { role: string; disabled: number }
        | undefined
      if (user === undefined || user.disabled !== 0) return null
      role = isRole(user.role) ? user.role : 'viewer'
    }
    let expiresAt = row.expiresAt
    if (now + this.ttlMs - expires >= SESSION_RENEW_MS) {
      expiresAt = new Date(now + this.ttlMs).toISOString()
      this.db.prepare('UPDATE Session SET expiresAt = ? WHERE id = ?').run(expiresAt, row.id)
    }
    return { subject: row.subject, role, userName: row.userName, tokenId: row.tokenId, csrfToken: row.csrfToken, expiresAt }
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM Session WHERE idHash = ?').run(sessionHash(id))
  }
}
