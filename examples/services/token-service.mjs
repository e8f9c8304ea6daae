// The identity service: issues random bearer tokens and checks them.
//   POST /token           -> 201 { token, expiresAt }
//   GET  /verify?token=T  -> 200 { valid: true, expiresAt } or 404 { valid: false }
//   GET  /health          -> 200 { status: "ok" }
// It listens on 127.0.0.1:50001 inside its network namespace, writes a log
// line per request under /var/log/blackhole/identity and its pid file under
// /var/run/blackhole/identity. The environment variables below override
// those defaults for a run outside the sandbox.

import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import { exitOnSignals, sendJson, startService } from './common.mjs'

const host = process.env.IDENTITY_HOST ?? '127.0.0.1'
const port = Number(process.env.IDENTITY_PORT ?? 50001)
const logDir = process.env.IDENTITY_LOG_DIR ?? '/var/log/blackhole/identity'
const runDir = process.env.IDENTITY_RUN_DIR ?? '/var/run/blackhole/identity'
const TOKEN_TTL_MS = 60 * 60 * 1000
// Bounds memory when a client requests tokens in a loop.
const MAX_TOKENS = 100_000

const service = startService({ name: 'token-service', logDir, runDir })
/** Token to its expiry time in milliseconds since the epoch. */
const tokens = new Map()

function expireTokens(now) {
  for (const [token, expiresAt] of tokens) {
    if (expiresAt <= now) tokens.delete(token)
  }
}

function handle(request, response) {
  const url = new URL(request.url ?? '/', 'http://localhost')
  const now = Date.now()
  if (request.method === 'GET' && url.pathname === '/health') {
    return sendJson(response, 200, { status: 'ok', tokens: tokens.size })
  }
  if (request.method === 'POST' && url.pathname === '/token') {
    if (tokens.size >= MAX_TOKENS) expireTokens(now)
    if (tokens.size >= MAX_TOKENS) return sendJson(response, 503, { error: 'token store is full; retry later' })
    const token = randomBytes(24).toString('base64url')
    tokens.set(token, now + TOKEN_TTL_MS)
    return sendJson(response, 201, { token, expiresAt: new Date(now + TOKEN_TTL_MS).toISOString() })
  }
  if (request.method === 'GET' && url.pathname === '/verify') {
    const token = url.searchParams.get('token')
    if (token === null || token === '') return sendJson(response, 400, { error: 'missing query parameter "token"' })
    const expiresAt = tokens.get(token)
    if (expiresAt === undefined || expiresAt <= now) return sendJson(response, 404, { valid: false })
    return sendJson(response, 200, { valid: true, expiresAt: new Date(expiresAt).toISOString() })
  }
  return sendJson(response, 404, { error: `no route ${request.method} ${url.pathname}` })
}

const server = createServer((request, response) => {
  response.on('finish', () => service.log(`${request.method} ${request.url?.split('?')[0]} ${response.statusCode}`))
  // Request bodies are not used; drain them so keep-alive connections work.
  request.resume()
  handle(request, response)
})

exitOnSignals(server, service)
server.listen(port, host, () => service.log(`listening on ${host}:${port}`))
