// The storage service: a key-value store kept as one file per key.
//   PUT    /kv/:key  body = value  -> 204
//   GET    /kv/:key                -> 200 value, or 404
//   DELETE /kv/:key                -> 204, or 404
//   GET    /health                 -> 200 { status: "ok" }
// It listens on 127.0.0.1:50002 inside its network namespace and keeps the
// values under /var/data/blackhole/storage, a persistent path bound from the
// host, so they survive restarts. Logs go to /var/log/blackhole/storage and
// the pid file to /var/run/blackhole/storage. The environment variables
// below override those defaults for a run outside the sandbox.

import { readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { mkdirSync } from 'node:fs'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { exitOnSignals, sendJson, startService } from './common.mjs'

const host = process.env.STORAGE_HOST ?? '127.0.0.1'
const port = Number(process.env.STORAGE_PORT ?? 50002)
const dataDir = process.env.STORAGE_DATA_DIR ?? '/var/data/blackhole/storage'
const logDir = process.env.STORAGE_LOG_DIR ?? '/var/log/blackhole/storage'
const runDir = process.env.STORAGE_RUN_DIR ?? '/var/run/blackhole/storage'
const MAX_VALUE_BYTES = 1024 * 1024
// Keys become file names, so only characters that are safe in one are allowed.
const KEY = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/

const service = startService({ name: 'kv-store', logDir, runDir })
mkdirSync(dataDir, { recursive: true })
let writes = 0

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = []
    let size = 0
    request.on('data', (chunk) => {
      size += chunk.length
      if (size > MAX_VALUE_BYTES) {
        reject(Object.assign(new Error(`value larger than ${MAX_VALUE_BYTES} bytes`), { status: 413 }))
        request.destroy()
        return
      }
      chunks.push(chunk)
    })
    request.on('end', () => resolve(Buffer.concat(chunks)))
    request.on('error', reject)
  })
}

/** Returns the key named by a /kv/:key path, or an error message for the client. */
function parseKey(encoded) {
  let key
  try {
    key = decodeURIComponent(encoded)
  } catch {
    return { error: `invalid percent-encoding in ${JSON.stringify(encoded)}` }
  }
  if (!KEY.test(key)) {
    return { error: `invalid key ${JSON.stringify(key)}: use 1 to 128 of A-Z a-z 0-9 . _ -, not starting with .` }
  }
  return { key }
}

async function putValue(request, response, key) {
  const value = await readBody(request)
  // Write then rename, so a crash never leaves a half-written value.
  const temporary = join(dataDir, `.${key}.${process.pid}.${writes++}.tmp`)
  await writeFile(temporary, value)
  await rename(temporary, join(dataDir, key))
  response.writeHead(204).end()
}

async function getValue(response, key) {
  try {
    const value = await readFile(join(dataDir, key))
    response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': value.length })
    response.end(value)
  } catch (error) {
    if (error.code !== 'ENOENT') throw error
    sendJson(response, 404, { error: `key ${JSON.stringify(key)} not found` })
  }
}

async function deleteValue(response, key) {
  try {
    await unlink(join(dataDir, key))
    response.writeHead(204).end()
  } catch (error) {
    if (error.code !== 'ENOENT') throw error
    sendJson(response, 404, { error: `key ${JSON.stringify(key)} not found` })
  }
}

async function handle(request, response) {
  const url = new URL(request.url ?? '/', 'http://localhost')
  if (request.method === 'GET' && url.pathname === '/health') {
    return sendJson(response, 200, { status: 'ok' })
  }

  const match = /^\/kv\/([^/]+)$/.exec(url.pathname)
  if (match === null) return sendJson(response, 404, { error: `no route ${request.method} ${url.pathname}` })
  const { key, error } = parseKey(match[1])
  if (error !== undefined) return sendJson(response, 400, { error })

  switch (request.method) {
    case 'PUT':
      return putValue(request, response, key)
    case 'GET':
      return getValue(response, key)
    case 'DELETE':
      return deleteValue(response, key)
    default:
      return sendJson(response, 405, { error: `method ${request.method} not allowed on /kv/:key; use GET, PUT or DELETE` })
  }
}

const server = createServer((request, response) => {
  response.on('finish', () => service.log(`${request.method} ${request.url?.split('?')[0]} ${response.statusCode}`))
  handle(request, response).catch((error) => {
    service.log(`error: ${error.message}`)
    if (!response.headersSent) sendJson(response, error.status ?? 500, { error: error.message })
    else response.destroy()
  })
})

exitOnSignals(server, service)
server.listen(port, host, () => service.log(`listening on ${host}:${port}`))
