// Profile routes for the console's editor: versions, diffs, validation,
// saving a new version, exports and the exposure score.

import { EXPORT_FORMATS, exportProfile, scoreProfile, type Config, type ExportFormat, type Profile } from '@blackhole/policy'
import type { FastifyPluginAsync } from 'fastify'
import { storeProfiles } from '../../db/profiles.js'
import type { PrismaClient } from '../../generated/prisma/client.js'
import { actorOf } from '../auth.js'
import { apiError, ApiError, type ErrorBody } from '../errors.js'
import type { AuditLogPort, SupervisorPort } from '../ports.js'
import { profileNameParams, requireRole } from './access.js'
import { lineDiff, type DiffLine } from './line-diff.js'
import { validateProfileYaml, type ProfileIssue } from './profile-yaml.js'

export interface ProfileRoutesOptions {
  /** The running config; a saved profile replaces its entry, which the next service start reads. */
  config: Config
  prisma: PrismaClient
  audit: AuditLogPort
  supervisor: SupervisorPort
}

/** Largest profile text accepted, in characters; the server body limit is 64 KiB. */
export const MAX_PROFILE_YAML = 48 * 1024

const versionParams = {
  type: 'object',
  properties: { name: profileNameParams.properties.name, version: { type: 'integer', minimum: 1, maximum: 2147483647 } },
  required: ['name', 'version'],
  additionalProperties: false,
} as const

const diffQuery = {
  type: 'object',
  properties: { from: { type: 'integer', minimum: 1, maximum: 2147483647 }, to: { type: 'integer', minimum: 1, maximum: 2147483647 } },
  required: ['from', 'to'],
  additionalProperties: false,
} as const

const exportQuery = {
  type: 'object',
  properties: { format: { type: 'string', enum: EXPORT_FORMATS.map((info) => info.name) } },
  required: ['format'],
  additionalProperties: false,
} as const

const yamlBody = {
  type: 'object',
  properties: { yaml: { type: 'string', maxLength: MAX_PROFILE_YAML } },
  required: ['yaml'],
  additionalProperties: false,
} as const

const validateBody = {
  type: 'object',
  properties: { yaml: yamlBody.properties.yaml, name: profileNameParams.properties.name },
  required: ['yaml'],
  additionalProperties: false,
} as const

/** A profile that fails validation; the body carries every problem with its line. */
class InvalidProfileError extends ApiError {
  constructor(
    message: string,
    readonly errors: ProfileIssue[],
  ) {
    super('INVALID_PROFILE', 400, message)
  }

  override body(): ErrorBody {
    return { ...super.body(), errors: this.errors } as ErrorBody
  }
}

export const profileRoutes: FastifyPluginAsync<ProfileRoutesOptions> = async (app, options) => {
  const { config, prisma, audit, supervisor } = options

  function profileOf(name: string): Profile {
    const profile = Object.hasOwn(config.profiles, name) ? config.profiles[name] : undefined
    if (profile === undefined) {
      const known = Object.keys(config.profiles)
      throw apiError('PROFILE_NOT_FOUND', name, known.length === 0 ? 'none' : known.join(', '))
    }
    return profile
  }

  async function findVersion(name: string, version: number) {
    const row = await prisma.profileVersion.findUnique({ where: { profileName_version: { profileName: name, version } } })
    if (row === null) {
      throw new ApiError('VERSION_NOT_FOUND', 404, `profile "${name}" has no version ${version}; list them with GET /api/v1/profiles/${name}/versions`)
    }
    return row
  }

  app.get<{ Params: { name: string } }>('/api/v1/profiles/:name/versions', { schema: { params: profileNameParams } }, async (request) => {
    const { name } = request.params
    profileOf(name)
    const current = await prisma.profile.findUnique({ where: { name } })
    const rows = await prisma.profileVersion.findMany({
      where: { profileName: name },
      orderBy: { version: 'desc' },
      select: { version: true, sha256: true, author: true, createdAt: true },
    })
    return {
      name,
      currentVersion: current?.currentVersion ?? null,
      versions: rows.map((row) => ({ ...row, createdAt: row.createdAt.toISOString() })),
    }
  })

  app.get<{ Params: { name: string; version: number } }>(
    '/api/v1/profiles/:name/versions/:version',
    { schema: { params: versionParams } },
    async (request) => {
      const { name, version } = request.params
      profileOf(name)
      const row = await findVersion(name, version)
      return { name, version, yaml: row.yaml, sha256: row.sha256, author: row.author, createdAt: row.createdAt.toISOString() }
    },
  )

  app.get<{ Params: { name: string }; Querystring: { from: number; to: number } }>(
    '/api/v1/profiles/:name/diff',
    { schema: { params: profileNameParams, querystring: diffQuery } },
    async (request) => {
      const { name } = request.params
      const { from, to } = request.query
      profileOf(name)
      const oldVersion = await findVersion(name, from)
      const newVersion = await findVersion(name, to)
      let lines: DiffLine[]
      try {
        lines = lineDiff(oldVersion.yaml, newVersion.yaml)
      } catch (error) {
        if (!(error instanceof RangeError)) throw error
        throw new ApiError('DIFF_TOO_LARGE', 422, `cannot diff versions ${from} and ${to} of "${name}": ${error.message}; compare their texts from GET /api/v1/profiles/${name}/versions/VERSION`)
      }
      const added = lines.filter((line) => line.op === 'added').length
      const removed = lines.filter((line) => line.op === 'removed').length
      return { name, from, to, added, removed, lines }
    },
  )

  app.post<{ Body: { yaml: string; name?: string } }>('/api/v1/profiles/validate', { schema: { body: validateBody }, config: { role: 'operator' } }, async (request) => {
    const result = validateProfileYaml(request.body.yaml, request.body.name ?? null)
    if (!result.ok) return { ok: false, errors: result.errors }
    const score = scoreProfile(result.profile)
    return { ok: true, errors: [], name: result.name, score: score.score, rating: score.rating }
  })

  app.put<{ Params: { name: string }; Body: { yaml: string } }>(
    '/api/v1/profiles/:name',
    { schema: { params: profileNameParams, body: yamlBody }, config: { role: 'admin' } },
    async (request) => {
      // The auth hook enforces config.role; this check keeps the rule if the route moves.
      requireRole(request, 'admin', 'change profiles')
      const { name } = request.params
      profileOf(name)
      const result = validateProfileYaml(request.body.yaml, name)
      if (!result.ok) {
        const count = result.errors.length
        throw new InvalidProfileError(`profile "${name}" is invalid (${count} ${count === 1 ? 'error' : 'errors'}); the stored version is unchanged:\n${result.errors.map((error) => error.text).join('\n')}`, result.errors)
      }
      const author = actorOf(request)
      const [stored] = await storeProfiles(prisma, result.configText, [name], author)
      if (stored === undefined) throw new Error(`profile "${name}" validated but its text could not be cut out for storing`)
      // Services read config.profiles at each start, so the new version
      // applies from their next start; a running process keeps the old one.
      config.profiles[name] = result.profile
      const services = Object.entries(config.services)
        .filter(([, service]) => service.profile === name)
        .map(([service]) => service)
      const running = supervisor
        .list()
        .filter((status) => services.includes(status.name) && status.pid !== null)
        .map((status) => status.name)
      if (stored.created) {
        await audit.append({
          type: 'PROFILE_UPDATED',
          severity: 'medium',
          description: `profile ${name} saved as version ${stored.version} by ${author}`,
          metadata: { profile: name, version: stored.version, services, running },
          actor: author,
        })
      }
      const note =
        running.length === 0
          ? 'no running service uses it; services start with this version'
          : `running services keep their current profile until restarted: ${running.join(', ')}`
      return {
        name,
        version: stored.version,
        created: stored.created,
        author,
        services,
        restartRequired: running,
        // NOTE: the config file is not rewritten, so the next start of
        // `blackhole serve` stores the file's text as the newest version again.
        configFile: 'unchanged; the next start of blackhole serve stores the config file text as the newest version, so copy this change into the file to keep it',
        message: stored.created ? `stored version ${stored.version}; ${note}` : `unchanged: version ${stored.version} has the same text`,
      }
    },
  )

  app.get<{ Params: { name: string }; Querystring: { format: ExportFormat } }>(
    '/api/v1/profiles/:name/export',
    { schema: { params: profileNameParams, querystring: exportQuery } },
    async (request) => {
      const { name } = request.params
      const profile = profileOf(name)
      const result = exportProfile(profile, request.query.format)
      return { format: request.query.format, text: result.text, warnings: result.warnings, fileName: result.fileName, mediaType: result.mediaType }
    },
  )

  app.get<{ Params: { name: string } }>('/api/v1/profiles/:name/score', { schema: { params: profileNameParams } }, async (request) => {
    const { name } = request.params
    return { name, ...scoreProfile(profileOf(name)) }
  })
}
