import { chmodSync, mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import Database from 'better-sqlite3'
import { PrismaClient } from '../generated/prisma/client.js'
import { applyMigrations } from './migrate.js'

/** prisma/migrations of this checkout, found from this file (src/db or dist/db). */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../../prisma/migrations', import.meta.url))

export const DATABASE_FILE = 'blackhole.db'

export interface OpenedDatabase {
  prisma: PrismaClient
  /** Absolute path of the SQLite file. */
  path: string
  /** Migrations applied by this open, in order; empty when the schema was current. */
  applied: string[]
  close(): Promise<void>
}

/**
 * Creates the data folder (mode 0700, because it contains token hashes and the
 * audit keys), applies pending migrations through better-sqlite3, then connects
 * Prisma. Migrations run before Prisma connects so that no query ever sees
 * an old schema.
 */
export async function openDatabase(dataDir: string, migrationsDir = MIGRATIONS_DIR): Promise<OpenedDatabase> {
  const folder = resolve(dataDir)
  mkdirSync(folder, { recursive: true, mode: 0o700 })
  // mkdir leaves an existing folder's mode alone, and umask can widen nothing
  // but may have narrowed it, so the mode is set explicitly.
  chmodSync(folder, 0o700)
  const path = join(folder, DATABASE_FILE)
  const db = new Database(path)
  let applied: string[]
  try {
    db.pragma('journal_mode = WAL')
    applied = applyMigrations(db, migrationsDir)
  } finally {
    db.close()
  }
  const adapter = new PrismaBetterSqlite3({ url: `file:${path}` })
  const prisma = new PrismaClient({ adapter })
  await prisma.$connect()
  return {
    prisma,
    path,
    applied,
    close: () => prisma.$disconnect(),
  }
}
