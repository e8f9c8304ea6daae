import type { FastifyInstance, RouteOptions } from 'fastify'
import { VERSION } from './routes.js'

interface JsonSchema {
  type?: string
  properties?: Record<string, JsonSchema & { description?: string }>
  required?: readonly string[]
  [keyword: string]: unknown
}

interface Operation {
  summary: string
  security?: { bearerAuth: [] }[]
  parameters: { name: string; in: 'path' | 'query'; required: boolean; schema: JsonSchema }[]
  responses: Record<string, { description: string; content?: unknown }>
}

const errorResponse = {
  description: 'Error',
  content: {
    'application/json': {
      schema: {
        type: 'object',
        properties: { error: { type: 'string' }, message: { type: 'string' } },
        required: ['error', 'message'],
      },
    },
  },
}

function parametersOf(schema: JsonSchema | undefined, location: 'path' | 'query'): Operation['parameters'] {
  if (schema?.properties === undefined) return []
  return Object.entries(schema.properties).map(([name, property]) => ({
    name,
    in: location,
    required: location === 'path' || (schema.required ?? []).includes(name),
    schema: property,
  }))
}

/**
 * Collects the routes under /api/v1 as they are registered and serves them
 * as an OpenAPI 3.1 document at GET /api/v1/openapi.json. Parameters come
 * from each route's JSON schemas, so the document cannot drift from the
 * validation. Call it before any route is registered.
 */
export function collectOpenApi(app: FastifyInstance): void {
  const paths: Record<string, Record<string, Operation>> = {}

  app.addHook('onRoute', (route: RouteOptions) => {
    if (!route.url.startsWith('/api/v1/') || route.url === '/api/v1/openapi.json') return
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((method) => method !== 'HEAD')
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}')
    const schema = (route.schema ?? {}) as { params?: JsonSchema; querystring?: JsonSchema }
    const isPublic = (route.config as { public?: boolean } | undefined)?.public === true
    for (const method of methods) {
      const operation: Operation = {
        summary: `${method} ${route.url}`,
        parameters: [...parametersOf(schema.params, 'path'), ...parametersOf(schema.querystring, 'query')],
        responses: { 200: { description: 'Success' }, default: errorResponse },
      }
      if (!isPublic) operation.security = [{ bearerAuth: [] }]
      paths[path] ??= {}
      paths[path]![method.toLowerCase()] = operation
    }
  })

  app.get('/api/v1/openapi.json', { config: { public: true } }, async () => ({
    openapi: '3.1.0',
    info: { title: 'Blackhole API', version: VERSION },
    components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } },
    paths,
  }))
}
