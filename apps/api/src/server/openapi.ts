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
  security?: Record<string, []>[]
  parameters: { name: string; in: 'path' | 'query'; required: boolean; schema: JsonSchema }[]
  requestBody?: { required: boolean; content: { 'application/json': { schema: JsonSchema } } }
  responses: Record<string, { description: string; content?: unknown }>
  /** The minimum role the operation needs. */
  'x-required-role'?: string
}

export interface OpenApiDocument {
  openapi: string
  info: { title: string; version: string }
  components: Record<string, unknown>
  paths: Record<string, Record<string, Operation>>
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

const DOCUMENTED = ['/api/v1/', '/metrics']
const SELF = new Set(['/api/v1/openapi.json', '/api/docs', '/api/docs/openapi.json'])

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** Renders the paths list as a page with no scripts, so it works under a strict CSP and offline. */
export function renderDocsPage(document: OpenApiDocument): string {
  const rows: string[] = []
  for (const [path, operations] of Object.entries(document.paths).sort(([a], [b]) => a.localeCompare(b))) {
    for (const [method, operation] of Object.entries(operations)) {
      const role = operation['x-required-role'] ?? (operation.security === undefined ? 'public' : 'viewer')
      const parameters = operation.parameters.map((parameter) => `${parameter.name} (${parameter.in})`).join(', ')
      const body = operation.requestBody === undefined ? '' : Object.keys(operation.requestBody.content['application/json'].schema.properties ?? {}).join(', ')
      rows.push(
        `<tr><td>${escapeHtml(method.toUpperCase())}</td><td><code>${escapeHtml(path)}</code></td>` +
          `<td>${escapeHtml(role)}</td><td>${escapeHtml(parameters)}</td><td>${escapeHtml(body)}</td></tr>`,
      )
    }
  }
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(document.info.title)} ${escapeHtml(document.info.version)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style>
</head>
<body>
<h1>${escapeHtml(document.info.title)} ${escapeHtml(document.info.version)}</h1>
<p>The machine-readable document is <a href="/api/docs/openapi.json">/api/docs/openapi.json</a>. Errors are JSON with <code>error</code> and <code>message</code>.</p>
<table>
<thead><tr><th>Method</th><th>Path</th><th>Minimum role</th><th>Parameters</th><th>Body fields</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
</body>
</html>
`
}

/**
 * Collects the routes under /api/v1 and /metrics as they are registered and
 * serves them as an OpenAPI 3.1 document at GET /api/docs/openapi.json (and
 * the older /api/v1/openapi.json), with a page listing them at /api/docs.
 * Parameters and bodies come from each route's JSON schemas, so the
 * document cannot drift from the validation. Call it before any route is
 * registered.
 */
export function collectOpenApi(app: FastifyInstance): OpenApiDocument {
  const paths: Record<string, Record<string, Operation>> = {}
  const document: OpenApiDocument = {
    openapi: '3.1.0',
    info: { title: 'Blackhole API', version: VERSION },
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer' },
        sessionCookie: { type: 'apiKey', in: 'cookie', name: 'blackhole_session' },
      },
    },
    paths,
  }

  app.addHook('onRoute', (route: RouteOptions) => {
    if (!DOCUMENTED.some((prefix) => route.url.startsWith(prefix)) || SELF.has(route.url)) return
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((method) => method !== 'HEAD')
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}')
    const schema = (route.schema ?? {}) as { params?: JsonSchema; querystring?: JsonSchema; body?: JsonSchema }
    const config = (route.config ?? {}) as { public?: boolean; role?: string }
    for (const method of methods) {
      const operation: Operation = {
        summary: `${method} ${route.url}`,
        parameters: [...parametersOf(schema.params, 'path'), ...parametersOf(schema.querystring, 'query')],
        responses: { 200: { description: 'Success' }, default: errorResponse },
      }
      if (schema.body !== undefined) {
        operation.requestBody = { required: (schema.body.required ?? []).length > 0, content: { 'application/json': { schema: schema.body } } }
      }
      if (config.public !== true) operation.security = [{ bearerAuth: [] }, { sessionCookie: [] }]
      if (config.role !== undefined) operation['x-required-role'] = config.role
      paths[path] ??= {}
      paths[path]![method.toLowerCase()] = operation
    }
  })

  const serveDocument = async () => document
  app.get('/api/v1/openapi.json', { config: { public: true } }, serveDocument)
  app.get('/api/docs/openapi.json', { config: { public: true } }, serveDocument)
  app.get('/api/docs', { config: { public: true } }, async (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'").send(renderDocsPage(document)),
  )
  return document
}
