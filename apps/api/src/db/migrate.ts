import { createHash, randomUUID } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type Database from 'better-sqlite3'

/**
 * Applies the SQL files under prisma/migrations in name order, once each,
 * and records them in `_prisma_migrations` with the columns `prisma migrate
 * deploy` uses, so the Prisma CLI sees the same history on hosts where its
 * schema engine runs. The Prisma schema engine binary cannot be downloaded
 * on every host, so Blackhole applies migrations itself at start.
 */
export function applyMigrations(db: Database.Database, migrationsDir: string): string[] {
  db.exec(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id" TEXT PRIMARY KEY NOT NULL,
    "checksum" TEXT NOT NULL,
    "finished_at" DATETIME,
    "migration_name" TEXT NOT NULL,
    "logs" TEXT,
    "rolled_back_at" DATETIME,
    "started_at" DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count" INTEGER UNSIGNED NOT NULL DEFAULT 0
  )`)
  const applied = new Set(
    db
      .prepare(`SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`)
      .all()
      .map((row) => (row as { migration_name: string }).migration_name),
  )
  const names = readdirSync(migrationsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
  const newlyApplied: string[] = []
  for (const name of names) {
    if (applied.has(name)) continue
    const sql = readFileSync(join(migrationsDir, name, 'migration.sql'), 'utf8')
    const checksum = createHash('sha256').update(sql).digest('hex')
    const run = db.transaction(() => {
      db.exec(sql)
      db.prepare(
        `INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, applied_steps_count)
         VALUES (?, ?, current_timestamp, ?, 1)`,
      ).run(randomUUID(), checksum, name)
    })
    run()
    newlyApplied.push(name)
  }
  return newlyApplied
}
