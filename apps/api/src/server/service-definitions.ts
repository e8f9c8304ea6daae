// Service definitions over the API: GET /api/v1/service-definitions,
// GET, PUT and DELETE /api/v1/service-definitions/:name. The config file's
// services are the base; a definition stored here overrides the config's
// service of the same name, or adds a service.

import { formatError, parseConfig, type Config, type ServiceDefinition } from '@blackhole/policy'
import type { FastifyInstance } from 'fastify'
import { parseDocument } from 'yaml'
import type { RawServiceDefinition, ServiceDefinitionStore } from '../db/service-definitions.js'
import { actorOf } from './auth.js'
import { ApiError, apiError } from './errors.js'
import type { AuditLogPort, SupervisorPort } from './ports.js'

export interface ServiceDefinitionDependencies {
  config: Config
  configText: string
  configPath: string
  store: ServiceDefinitionStore
  supervisor: SupervisorPort
  audit: AuditLogPort
}

export type DefinitionValidation = { ok: true; definition: ServiceDefinition } | { ok: false; errors: string[] }

/**
 * Validates one service definition with the policy package's service rules:
 * the definition replaces the config file's services section and the
 * result is parsed as a config, so the messages, profile references and
 * persistent path checks are the config file's.
 */
export function validateServiceDefinition(configText: string, configPath: string, name: string, raw: RawServiceDefinition): DefinitionValidation {
  const document = parseDocument(configText)
  document.set('services', { [name]: raw })
  const parsed = parseConfig(document.toString(), configPath)
  if (!parsed.ok) return { ok: false, errors: parsed.errors.map((error) => formatError(error)) }
  const definition = parsed.config.services[name]
  if (definition === undefined) return { ok: false, errors: [`service "${name}" is missing after validation`] }
  return { ok: true, definition }
}

const stringProperty = { type: 'string', maxLength: 4096 } as const

const definitionBody = {
  type: 'object',
  properties: {
    profile: { type: 'string', minLength: 1, maxLength: 64 },
    command: { type: 'string', minLength: 1, maxLength: 4096 },
    args: { type: 'array', items: stringProperty, maxItems: 256 },
    working_directory: stringProperty,
    environment: { type: 'object', additionalProperties: stringProperty, maxProperties: 256 },
    restart: { type: 'string', enum: ['no', 'on-failure', 'always'] },
    persistent_paths: { type: 'array', items: stringProperty, maxItems: 64 },
    autostart: { type: 'boolean' },
  },
  required: ['profile', 'command'],
  additionalProperties: false,
} as const

const nameParams = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1, maxLength: 64 } },
  required: ['name'],
  additionalProperties: false,
} as const

/** Applies the stored definitions to the supervisor at start; returns the ones that no longer validate, with why. */
export function applyStoredDefinitions(deps: Omit<ServiceDefinitionDependencies, 'audit' | 'config'>): { service: string; errors: string[] }[] {
  const invalid: { service: string; errors: string[] }[] = []
  for (const stored of deps.store.current()) {
    const result = validateServiceDefinition(deps.configText, deps.configPath, stored.service, stored.definition ?? {})
    if (result.ok) deps.supervisor.define(stored.service, result.definition)
    else invalid.push({ service: stored.service, errors: result.errors })
  }
  return invalid
}

export function registerServiceDefinitionRoutes(app: FastifyInstance, deps: ServiceDefinitionDependencies): void {
  const { config, configText, configPath, store, supervisor, audit } = deps
  const fromConfig = (name: string) => (Object.hasOwn(config.services, name) ? config.services[name]! : null)

  const describe = (name: string) => {
    const stored = store.get(name)
    const base = fromConfig(name)
    if (stored === null && base === null) return null
    return {
      name,
      source: stored === null ? 'config' : 'api',
      overridesConfig: stored !== null && base !== null,
      version: stored?.version ?? null,
      definition: stored?.definition ?? base,
    }
  }

  app.get('/api/v1/service-definitions', async () => {
    const names = new Set([...Object.keys(config.services), ...store.current().map((version) => version.service)])
    return [...names].sort().map((name) => describe(name))
  })

  app.get<{ Params: { name: string } }>('/api/v1/service-definitions/:name', { schema: { params: nameParams } }, async (request) => {
    const { name } = request.params
    const current = describe(name)
    if (current === null) throw new ApiError('SERVICE_NOT_FOUND', 404, `service "${name}" is neither in the config nor defined over the API`)
    return { ...current, versions: store.history(name) }
  })

  app.put<{ Params: { name: string }; Body: RawServiceDefinition }>(
    '/api/v1/service-definitions/:name',
    { config: { role: 'admin' }, schema: { params: nameParams, body: definitionBody } },
    async (request) => {
      const { name } = request.params
      const result = validateServiceDefinition(configText, configPath, name, request.body)
      if (!result.ok) throw apiError('INVALID_REQUEST', result.errors.join('\n'))
      const actor = actorOf(request)
      const running = (() => {
        try {
          return supervisor.get(name).pid !== null
        } catch {
          return false
        }
      })()
      const created = supervisor.define(name, result.definition)
      const version = store.write(name, request.body, actor)
      const overridesConfig = fromConfig(name) !== null
      await audit.append({
        service: name,
        type: 'SERVICE_DEFINED',
        severity: 'info',
        description: `service ${name} defined over the API, version ${version.version}`,
        metadata: { version: version.version, overridesConfig, created, definition: request.body },
        actor,
      })
      const note = overridesConfig
        ? `overrides the config file's service "${name}"; DELETE restores the config's definition`
        : created
          ? 'new service; start it with POST /api/v1/services/' + name + '/start'
          : 'replaces the earlier API definition'
      return {
        name,
        version: version.version,
        source: 'api',
        overridesConfig,
        created,
        appliesAt: running ? 'next start' : 'now',
        note,
        definition: request.body,
      }
    },
  )

  app.delete<{ Params: { name: string } }>(
    '/api/v1/service-definitions/:name',
    { config: { role: 'admin' }, schema: { params: nameParams } },
    async (request) => {
      const { name } = request.params
      if (store.get(name) === null) {
        throw new ApiError('DEFINITION_NOT_FOUND', 404, `service "${name}" has no definition stored over the API; config file services are changed in the file`)
      }
      const base = fromConfig(name)
      // Removing an API-only service fails while it runs, before anything is stored.
      if (base === null) supervisor.remove(name)
      else supervisor.define(name, base)
      const actor = actorOf(request)
      const version = store.write(name, null, actor)
      await audit.append({
        service: name,
        type: 'SERVICE_UNDEFINED',
        severity: 'info',
        description: `API definition of ${name} deleted${base === null ? ', service removed' : ', config file definition restored'}`,
        metadata: { version: version.version, restoredConfig: base !== null },
        actor,
      })
      return { name, version: version.version, removed: base === null, restoredConfig: base !== null }
    },
  )
}
