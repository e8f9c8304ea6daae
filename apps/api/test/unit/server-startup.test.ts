import { createHash } from 'node:crypto'
import { readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { MIGRATIONS_DIR } from '../../src/db/client.js'
import { createToken } from '../../src/db/tokens.js'
import { openBlackhole, type Blackhole } from '../../src/server/app.js'
import { exampleConfigWithoutAutostart, tempFolder, type TempFolder } from './server-fixture.js'

const folders: TempFolder[] = []
const opened: Blackhole[] = []

async function start(folder: TempFolder, options: { adminToken?: string; print?: (line: string) => void } = {}) {
  const blackhole = await openBlackhole({
    configPath: folder.configPath,
    dataDir: folder.dataDir,
    logger: false,
    webRoot: null,
    cgroupRoot: `blackhole-unit-${process.pid}`,
    print: options.print ?? (() => {}),
    adminToken: options.adminToken,
  })
  opened.push(blackhole)
  return blackhole
}

async function stop(blackhole: Blackhole) {
  await blackhole.close()
  opened.splice(opened.indexOf(blackhole), 1)
}

function newFolder(configText?: string) {
  const folder = tempFolder(configText)
  folders.push(folder)
  return folder
}

afterEach(async () => {
  for (const blackhole of opened.splice(0)) await blackhole.close()
  for (const folder of folders.splice(0)) folder.remove()
})

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

describe('first start', () => {
  it('prints the admin token once and stores only its hash', async () => {
    const folder = newFolder()
    const lines: string[] = []
    const first = await start(folder, { print: (line) => lines.push(line) })
    expect(lines.length).toBe(1)
    const match = /^Admin token \(shown once\): (bh_[A-Za-z0-9_-]{43})$/.exec(lines[0]!)
    expect(match).not.toBeNull()
    const token = match![1]!

    const rows = await first.database.prisma.apiToken.findMany()
    expect(rows.length).toBe(1)
    expect(rows[0]!.name).toBe('admin')
    expect(rows[0]!.role).toBe('admin')
    expect(rows[0]!.tokenHash).toBe(sha256(token))
    expect(JSON.stringify(rows)).not.toContain(token)

    const response = await first.app.inject({ method: 'GET', url: '/api/v1/services', headers: { authorization: `Bearer ${token}` } })
    expect(response.statusCode).toBe(200)
    await stop(first)

    const second = await start(folder, { print: (line) => lines.push(line) })
    expect(lines.length).toBe(1)
    expect(await second.database.prisma.apiToken.count()).toBe(1)
  })

  it('stores BLACKHOLE_ADMIN_TOKEN without printing it', async () => {
    const folder = newFolder()
    const lines: string[] = []
    const preset = 'bh_preset-token-value-from-the-environment'
    const blackhole = await start(folder, { adminToken: preset, print: (line) => lines.push(line) })
    expect(lines).toEqual([])
    const rows = await blackhole.database.prisma.apiToken.findMany()
    expect(rows.map((row) => row.tokenHash)).toEqual([sha256(preset)])
    const response = await blackhole.app.inject({ method: 'GET', url: '/api/v1/services', headers: { authorization: `Bearer ${preset}` } })
    expect(response.statusCode).toBe(200)
  })

  it('ignores BLACKHOLE_ADMIN_TOKEN once a token exists', async () => {
    const folder = newFolder()
    await stop(await start(folder, { adminToken: 'bh_first-token-stored-at-first-start' }))
    const later = await start(folder, { adminToken: 'bh_second-token-that-must-not-work' })
    expect(await later.database.prisma.apiToken.count()).toBe(1)
    const response = await later.app.inject({
      method: 'GET',
      url: '/api/v1/services',
      headers: { authorization: 'Bearer bh_second-token-that-must-not-work' },
    })
    expect(response.statusCode).toBe(401)
  })

  it('creates the data folder with mode 0700', async () => {
    const folder = newFolder()
    await start(folder)
    expect(statSync(folder.dataDir).mode & 0o777).toBe(0o700)
  })
})

describe('migrations at start', () => {
  it('applies every migration once', async () => {
    const folder = newFolder()
    const expected = readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort()
    const first = await start(folder)
    expect(first.database.applied).toEqual(expected)
    await stop(first)

    const second = await start(folder)
    expect(second.database.applied).toEqual([])
    await stop(second)

    const db = new Database(join(folder.dataDir, 'blackhole.db'), { readonly: true })
    try {
      const rows = db.prepare('SELECT migration_name FROM _prisma_migrations ORDER BY migration_name').all() as { migration_name: string }[]
      expect(rows.map((row) => row.migration_name)).toEqual(expected)
    } finally {
      db.close()
    }
  })
})

describe('profile versions', () => {
  it('stores version 1 of each profile with the config as author', async () => {
    const folder = newFolder()
    const blackhole = await start(folder)
    const versions = await blackhole.database.prisma.profileVersion.findMany({ orderBy: { profileName: 'asc' } })
    expect(versions.map((version) => [version.profileName, version.version])).toEqual([
      ['identity', 1],
      ['storage', 1],
    ])
    expect(versions[0]!.author).toBe(`config:${folder.configPath}`)
    expect(versions[0]!.yaml).toContain('  allowed_ports:\n      - 50001')
    expect(versions[0]!.sha256).toBe(sha256(versions[0]!.yaml))
    expect(blackhole.profiles.every((profile) => profile.created)).toBe(true)
  })

  it('adds a version only for a changed profile', async () => {
    const folder = newFolder()
    await stop(await start(folder))

    const unchanged = await start(folder)
    expect(unchanged.profiles.some((profile) => profile.created)).toBe(false)
    expect(await unchanged.database.prisma.profileVersion.count()).toBe(2)
    await stop(unchanged)

    const changed = exampleConfigWithoutAutostart().replace('max_file_descriptors: 4096', 'max_file_descriptors: 2048')
    writeFileSync(folder.configPath, changed)
    const restarted = await start(folder)
    const identity = await restarted.database.prisma.profile.findUnique({ where: { name: 'identity' } })
    const storage = await restarted.database.prisma.profile.findUnique({ where: { name: 'storage' } })
    expect(identity?.currentVersion).toBe(2)
    expect(storage?.currentVersion).toBe(1)
    const latest = await restarted.database.prisma.profileVersion.findUnique({
      where: { profileName_version: { profileName: 'identity', version: 2 } },
    })
    expect(latest?.yaml).toContain('max_file_descriptors: 2048')

    const response = await restarted.app.inject({
      method: 'GET',
      url: '/api/v1/profiles/identity',
      headers: { authorization: `Bearer ${await adminToken(restarted)}` },
    })
    expect(response.json().yaml).toContain('max_file_descriptors: 2048')
  })
})

describe('invalid config', () => {
  it('rejects the start with every error', async () => {
    const folder = newFolder('security_profiles:\n  a:\n    capabilitiez: []\n  b:\n    network:\n      allowed_ports: [0]\n')
    const failure = openBlackhole({ configPath: folder.configPath, dataDir: folder.dataDir, logger: false, webRoot: null, cgroupRoot: `blackhole-unit-${process.pid}` })
    await expect(failure).rejects.toMatchObject({ name: 'ConfigError' })
    const error = await failure.catch((caught: { errors: { line: number }[] }) => caught)
    expect(error.errors.length).toBe(2)
    expect(error.errors.map((problem) => problem.line)).toEqual([3, 6])
  })
})

// The first start printed its admin token to nobody, so a test that needs
// to call the API afterwards creates a token of its own.
async function adminToken(blackhole: Blackhole): Promise<string> {
  return (await createToken(blackhole.database.prisma, `test-${Date.now()}`, 'admin')).token
}
