// Services defined over the API, with every version kept. The stored form
// is the definition as the API received it (the config file's field names),
// so it can be validated again against a changed config at each start.

import type Database from 'better-sqlite3'

/** A definition in the config file's field names, such as `persistent_paths`. */
export type RawServiceDefinition = Record<string, unknown>

export interface ServiceDefinitionVersion {
  service: string
  version: number
  /** Null for a version that deleted the definition. */
  definition: RawServiceDefinition | null
  author: string
  createdAt: string
}

interface VersionRow {
  serviceName: string
  version: number
  definition: string
  author: string
  createdAt: string
}

function toVersion(row: VersionRow): ServiceDefinitionVersion {
  return {
    service: row.serviceName,
    version: row.version,
    definition: JSON.parse(row.definition) as RawServiceDefinition | null,
    author: row.author,
    createdAt: row.createdAt,
  }
}

export class ServiceDefinitionStore {
  constructor(private readonly db: Database.Database) {}

  /** The current version of every definition that is not deleted, by service name. */
  current(): ServiceDefinitionVersion[] {
    const rows = this.db
      .prepare(
        `SELECT v.* FROM ServiceDefinition d
         JOIN ServiceDefinitionVersion v ON v.serviceName = d.name AND v.version = d.currentVersion
         WHERE d.deleted = 0 ORDER BY d.name`,
      )
      .all() as VersionRow[]
    return rows.map(toVersion)
  }

  /** The current version of one service's definition, or null when none or deleted. */
  get(name: string): ServiceDefinitionVersion | null {
    return this.current().find((version) => version.service === name) ?? null
  }

  /** Every version of one service's definition, newest first. */
  history(name: string): ServiceDefinitionVersion[] {
    const rows = this.db
      .prepare('SELECT * FROM ServiceDefinitionVersion WHERE serviceName = ? ORDER BY version DESC')
      .all(name) as VersionRow[]
    return rows.map(toVersion)
  }

  /** Stores a new version (null deletes) and returns it. */
  write(name: string, definition: RawServiceDefinition | null, author: string): ServiceDefinitionVersion {
    const now = new Date().toISOString()
    return this.db.transaction(() => {
      const row = this.db.prepare('SELECT currentVersion FROM ServiceDefinition WHERE name = ?').get(name) as
        | { currentVersion: number }
        | undefined
      const version = (row?.currentVersion ?? 0) + 1
      this.db
        .prepare(
          `INSERT INTO ServiceDefinition (name, currentVersion, deleted, updatedAt) VALUES (?, ?, ?, ?)
           ON CONFLICT(name) DO UPDATE SET currentVersion = excluded.currentVersion, deleted = excluded.deleted, updatedAt = excluded.updatedAt`,
        )
        .run(name, version, definition === null ? 1 : 0, now)
      this.db
        .prepare('INSERT INTO ServiceDefinitionVersion (serviceName, version, definition, author, createdAt) VALUES (?, ?, ?, ?, ?)')
        .run(name, version, JSON.stringify(definition), author, now)
      return { service: name, version, definition, author, createdAt: now }
    })()
  }
}
