// Checks that prisma/schema.prisma and the hand-written migrations describe
// the same database. The migrations are applied to an empty SQLite file with
// the start-time migrator, then Prisma's schema engine (the WebAssembly build,
// driven through the better-sqlite3 driver adapter) diffs that database
// against the schema. Any statement in the diff means the two drifted apart.
//
// @prisma/schema-engine-wasm is an internal Prisma package: its version is
// pinned in apps/api/package.json and this test is what notices a change in
// its calling convention.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyMigrations } from '../../src/db/migrate.js'

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url))
const schemaPath = join(repoRoot, 'prisma/schema.prisma')
const migrationsDir = join(repoRoot, 'prisma/migrations')

interface SchemaFile { path: string; content: string }
interface DiffResult { exitCode: number; stdout: string | null }
interface SchemaEngine {
  diff(params: unknown): Promise<DiffResult>
  free(): void
}
interface SchemaEngineModule {
  __wbg_set_wasm(exports: WebAssembly.Exports): void
  SchemaEngine: { new: (options: unknown, log: (line: string) => void, adapter: object) => Promise<SchemaEngine> }
}

// The package's entry point imports the .wasm file as an ES module, which
// Node 20 cannot do without --experimental-wasm-modules, so the bindings
// file is loaded on its own and the module instantiated by hand.
async function loadSchemaEngine(): Promise<SchemaEngineModule> {
  const require = createRequire(import.meta.url)
  const bindingsPath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg')
  const bindings = (await import(bindingsPath)) as SchemaEngineModule
  const wasm = readFileSync(bindingsPath.replace(/\.js$/, '.wasm'))
  const imports = { './schema_engine_bg.js': bindings as unknown as WebAssembly.ModuleImports }
  const { instance } = await WebAssembly.instantiate(wasm, imports)
  bindings.__wbg_set_wasm(instance.exports)
  ;(instance.exports.__wbindgen_start as () => void)()
  return bindings
}

describe('schema.prisma against the migrations', () => {
  let dir: string
  let dbPath: string
  let applied: string[]

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'blackhole-drift-'))
    dbPath = join(dir, 'drift.db')
    const db = new Database(dbPath)
    try {
      applied = applyMigrations(db, migrationsDir)
    } finally {
      db.close()
    }
  })

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it('applies every migration', () => {
    expect(applied.length).toBeGreaterThan(0)
    expect(applied[0]).toBe('20261204000000_init')
  })

  it('has no diff to the schema', async () => {
    const engineModule = await loadSchemaEngine()
    const schema: SchemaFile = { path: 'schema.prisma', content: readFileSync(schemaPath, 'utf8') }
    const adapter = bindMigrationAwareSqlAdapterFactory(new PrismaBetterSqlite3({ url: `file:${dbPath}` }))
    const engine = await engineModule.SchemaEngine.new(
      { datamodels: [[schema.path, schema.content]] },
      () => {},
      adapter,
    )
    try {
      const result = await engine.diff({
        from: { tag: 'schemaDatasource', files: [schema], configDir: repoRoot },
        to: { tag: 'schemaDatamodel', files: [schema] },
        script: true,
        exitCode: true,
        filters: { externalTables: [], externalEnums: [] },
      })
      // The engine prints this comment for an empty diff and exit code 2
      // when there is anything to change.
      expect(result.stdout?.trim()).toBe('-- This is an empty migration.')
      expect(result.exitCode).toBe(0)
    } finally {
      engine.free()
    }
  }, 30_000)
})
