// Service detail routes for the console: the log tail, the process tree
// and the sockets, each read on request from the service's files and /proc.

import { readdirSync, readlinkSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyPluginAsync } from 'fastify'
import { classifySockets, readSockets } from '../../monitor/network-monitor.js'
import { readProcessInfo, type ProcessNode } from '../../monitor/process-monitor.js'
import type { ServiceStatus } from '../../types.js'
import type { SupervisorPort } from '../ports.js'
import { serviceNameParams } from './access.js'

export interface ServiceDetailRoutesOptions {
  supervisor: SupervisorPort
  /** The folder that contains logs/<service>.log; the supervisor's dataDir when not given. */
  dataDir?: string
}

export const DEFAULT_LOG_LINES = 200
export const MAX_LOG_LINES = 2000
/** Bytes read from the end of a log at most, so a huge file costs no more than this. */
export const MAX_LOG_TAIL_BYTES = 1024 * 1024
/** Processes listed per service at most; the rest are counted. */
export const MAX_PROCESSES = 1000

const logsQuery = {
  type: 'object',
  properties: { lines: { type: 'integer', minimum: 1, maximum: MAX_LOG_LINES, default: DEFAULT_LOG_LINES } },
  additionalProperties: false,
} as const

const emptyQuery = { type: 'object', properties: {}, additionalProperties: false } as const

/**
 * Returns the last `count` lines of a file, reading backwards in blocks and
 * at most MAX_LOG_TAIL_BYTES, so a large file is never read whole.
 * `truncated` is true when that bound stopped the read before `count`
 * lines were found.
 */
export async function readLogTail(path: string, count: number): Promise<{ lines: string[]; size: number; truncated: boolean } | null> {
  let handle
  try {
    handle = await open(path, 'r')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
  try {
    const { size } = await handle.stat()
    const block = 64 * 1024
    const chunks: Buffer[] = []
    let position = size
    let newlines = 0
    let read = 0
    // One more newline than lines wanted, because the file usually ends with one.
    while (position > 0 && newlines <= count && read < MAX_LOG_TAIL_BYTES) {
      const length = Math.min(block, position, MAX_LOG_TAIL_BYTES - read)
      position -= length
      const buffer = Buffer.alloc(length)
      await handle.read(buffer, 0, length, position)
      chunks.unshift(buffer)
      read += length
      for (const byte of buffer) if (byte === 0x0a) newlines++
    }
    let text = Buffer.concat(chunks).toString('utf8')
    if (text.endsWith('\n')) text = text.slice(0, -1)
    let lines = text === '' ? [] : text.split('\n')
    // The first line is partial when the read did not reach the start of the file.
    const partial = position > 0
    if (partial && lines.length > 0) lines = lines.slice(1)
    const truncated = partial && lines.length < count
    return { lines: lines.slice(-count), size, truncated }
  } finally {
    await handle.close()
  }
}

function pidNamespace(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`)
  } catch {
    return null
  }
}

/**
 * Lists the processes in the PID namespace of the service's main process
 * (which its sandbox created) as a tree rooted at that process.
 */
export function processTree(mainPid: number): { roots: ProcessNode[]; total: number } {
  const namespace = pidNamespace(mainPid)
  if (namespace === null) return { roots: [], total: 0 }
  const nodes = new Map<number, ProcessNode>()
  let total = 0
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const pid = Number(entry)
    if (pidNamespace(pid) !== namespace) continue
    total++
    if (nodes.size >= MAX_PROCESSES) continue
    const info = readProcessInfo(pid)
    if (info !== null) nodes.set(pid, { ...info, children: [] })
  }
  const roots: ProcessNode[] = []
  for (const node of [...nodes.values()].sort((a, b) => a.pid - b.pid)) {
    const parent = nodes.get(node.ppid)
    if (parent !== undefined && node.pid !== mainPid) parent.children.push(node)
    else roots.push(node)
  }
  return { roots, total }
}

function runningPid(status: ServiceStatus): number | null {
  return status.state === 'running' || status.state === 'isolated' || status.state === 'stopping' ? status.pid : null
}

export const serviceDetailRoutes: FastifyPluginAsync<ServiceDetailRoutesOptions> = async (app, options) => {
  const { supervisor } = options
  const dataDir = options.dataDir ?? (supervisor as { dataDir?: unknown }).dataDir

  app.get<{ Params: { name: string }; Querystring: { lines: number } }>(
    '/api/v1/services/:name/logs',
    { schema: { params: serviceNameParams, querystring: logsQuery } },
    async (request) => {
      const { name } = request.params
      supervisor.get(name)
      if (typeof dataDir !== 'string') return { service: name, path: null, lines: [], size: 0, truncated: false }
      const path = join(dataDir, 'logs', `${name}.log`)
      const tail = await readLogTail(path, request.query.lines)
      return { service: name, path, lines: tail?.lines ?? [], size: tail?.size ?? 0, truncated: tail?.truncated ?? false }
    },
  )

  app.get<{ Params: { name: string } }>(
    '/api/v1/services/:name/processes',
    { schema: { params: serviceNameParams, querystring: emptyQuery } },
    async (request) => {
      const status = supervisor.get(request.params.name)
      const pid = runningPid(status)
      const time = Date.now()
      if (pid === null) return { service: status.name, pid: null, time, total: 0, processes: [] }
      const { roots, total } = processTree(pid)
      return { service: status.name, pid, time, total, processes: roots }
    },
  )

  app.get<{ Params: { name: string } }>(
    '/api/v1/services/:name/connections',
    { schema: { params: serviceNameParams, querystring: emptyQuery } },
    async (request) => {
      const status = supervisor.get(request.params.name)
      const pid = runningPid(status)
      const time = Date.now()
      const sockets = pid === null ? null : readSockets(pid)
      if (sockets === null) return { service: status.name, pid, time, listeners: [], connections: [] }
      return { service: status.name, pid, time, ...classifySockets(sockets.inet, sockets.unix) }
    },
  )
}
