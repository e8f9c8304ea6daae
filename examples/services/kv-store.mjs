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

async function handle(request, response) {
  const url = new URL(request.url ?? '/', 'http://localhost')
  if (request.method === 'GET' && url.pathname === '/health') {
    return sendJson(response, 200, { status: 'ok' })
  }
  const match = /^\/kv\/([^/]+)$/.exec(url.pathname)
  if (match === null) return sendJson(response, 404, { error: `no route ${request.method} ${url.pathname}` })
  let key
  try {
    key = decodeURIComponent(match[1])
  } catch {
    return sendJson(response, 400, { error: `invalid percent-encoding in ${JSON.stringify(match[1])}` })
  }
  if (!KEY.test(key)) {
    return sendJson(response, 400, { error: `invalid key ${JSON.stringify(key)}: use 1 to 128 of A-Z a-z 0-9 . _ -, not starting with .` })
  }
  const file = join(dataDir, key)
  if (request.method === 'PUT') {
    const value = await readBody(request)
    // Write then rename, so a crash never leaves a half-written value.
    const temporary = join(dataDir, `.${key}.${process.pid}.${writes++}.tmp`)
    await writeFile(temporary, value)
    await rename(temporary, file)
    response.writeHead(204).end()
    return
  }
  if (request.method === 'GET') {
    try {
      const value = await readFile(file)
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': value.length })
      response.end(value)
    } catch (error) {
      if (error.code !== 'ENOENT') throw error
      sendJson(response, 404, { error: `key ${JSON.stringify(key)} not found` })
    }
    return
  }
  if (request.method === 'DELETE') {
    try {
      await unlink(file)
      response.writeHead(204).end()
    } catch (error) {
      if (error.code !== 'ENOENT') throw error
      sendJson(response, 404, { error: `key ${JSON.stringify(key)} not found` })
    }
    return
  }
  sendJson(response, 405, { error: `method ${request.method} not allowed on /kv/:key; use GET, PUT or DELETE` })
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
