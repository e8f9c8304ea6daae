// Measures WebSocket delivery latency: C clients (50 by default) connected
// to /api/v1/stream on 127.0.0.1 while audit records are appended at R
// records/s (1,000 by default) for S seconds (20 by default). Latency runs
// from just before AuditLog.append to the client's message event. The
// clients are ws sockets in a child process, so their parsing does not
// share the server's event loop; both processes read the same
// CLOCK_REALTIME through performance.timeOrigin + performance.now().
//
//   pnpm exec tsx bench/api/websocket-fanout.ts [clients] [rate] [seconds]

import { fork } from 'node:child_process'
import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import type WebSocketType from 'ws'
import { openBlackhole } from '../../apps/api/src/server/app.js'
import { benchFolder, formatMs, percentile } from './common.js'

// ws is a dependency of apps/api only.
const WebSocket = createRequire(new URL('../../apps/api/package.json', import.meta.url))('ws') as typeof WebSocketType
type WebSocket = WebSocketType

const ADMIN_TOKEN = 'bh_bench-websocket-admin-token'
const now = () => performance.timeOrigin + performance.now()

interface ClientReport {
  latencies: number[]
  received: number
}

// Runs the clients: connects, authenticates, records latency per event, and
// sends the samples to the parent on its stop message.
async function runClients(url: string, clients: number): Promise<void> {
  const latencies: number[] = []
  let received = 0
  const sockets = await Promise.all(
    Array.from(
      { length: clients },
      () =>
        new Promise<WebSocket>((resolve, reject) => {
          const socket = new WebSocket(url)
          socket.once('error', reject)
          socket.once('open', () => socket.send(JSON.stringify({ type: 'auth', token: ADMIN_TOKEN })))
          socket.on('message', (data) => {
            const message = JSON.parse(String(data)) as { type: string; event?: { type: string; metadata: { sentAt?: number } } }
            if (message.type === 'hello') {
              socket.send(JSON.stringify({ type: 'subscribe', topics: ['events'] }))
              resolve(socket)
              return
            }
            const sentAt = message.event?.metadata.sentAt
            if (message.type !== 'event' || typeof sentAt !== 'number') return
            received++
            latencies.push(now() - sentAt)
          })
        }),
    ),
  )
  process.send!({ type: 'ready' })
  process.on('message', (message: { type: string }) => {
    if (message.type !== 'stop') return
    for (const socket of sockets) socket.close()
    process.send!({ type: 'report', latencies, received } satisfies ClientReport & { type: string }, () => process.exit(0))
  })
}

async function runServer(): Promise<void> {
  const clients = Number(process.argv[2] ?? 50)
  const rate = Number(process.argv[3] ?? 1000)
  const seconds = Number(process.argv[4] ?? 20)
  if (![clients, rate, seconds].every((value) => Number.isInteger(value) && value > 0) || clients > 500 || seconds > 120) {
    throw new Error(`usage: tsx bench/api/websocket-fanout.ts [clients 1-500] [rate > 0] [seconds 1-120]; got ${process.argv.slice(2).join(' ')}`)
  }
  const folder = benchFolder('blackhole-bench-ws-')
  const blackhole = await openBlackhole({
    configPath: folder.configPath,
    dataDir: folder.dataDir,
    adminToken: ADMIN_TOKEN,
    logger: false,
    webRoot: null,
    autostart: false,
  })
  try {
    await blackhole.app.listen({ host: '127.0.0.1', port: 0 })
    const address = blackhole.app.server.address()
    if (typeof address !== 'object' || address === null) throw new Error('server has no TCP address')
    const child = fork(fileURLToPath(import.meta.url), ['--clients', `ws://127.0.0.1:${address.port}/api/v1/stream`, String(clients)], {
      execArgv: ['--import', 'tsx'],
    })
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve())
      child.once('exit', (code) => reject(new Error(`client process exited with ${code} before it was ready`)))
    })

    // Appends in 10 ms ticks, so the rate stays steady without one timer per record.
    const total = rate * seconds
    const perTick = rate / 100
    let sent = 0
    const started = performance.now()
    const appends: Promise<unknown>[] = []
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + perTick)
      while (sent < due) {
        const index = sent++
        appends.push(
          blackhole.audit.append({
            service: `svc-${index % 16}`,
            type: 'SYSCALL_OBSERVED',
            severity: 'info',
            description: `bench event ${index}`,
            metadata: { sentAt: now(), index },
            actor: 'supervisor',
          }),
        )
      }
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    await Promise.all(appends)
    const elapsed = (performance.now() - started) / 1000
    // Lets the last events reach the clients.
    await new Promise((resolve) => setTimeout(resolve, 1000))

    const report = await new Promise<ClientReport>((resolve) => {
      child.on('message', (message: { type: string } & ClientReport) => {
        if (message.type === 'report') resolve(message)
      })
      child.send({ type: 'stop' })
    })
    const expected = total * clients
    console.log(`clients ${clients}, ${total} records in ${elapsed.toFixed(1)} s (${Math.round(total / elapsed)} records/s)`)
    console.log(`delivered ${report.received} of ${expected} (${((report.received / expected) * 100).toFixed(2)} %)`)
    console.log(`latency p50 ${formatMs(percentile(report.latencies, 50))}, p99 ${formatMs(percentile(report.latencies, 99))}, max ${formatMs(report.latencies.reduce((a, b) => Math.max(a, b), 0))}`)
  } finally {
    await blackhole.close()
    folder.remove()
  }
}

if (process.argv[2] === '--clients') await runClients(process.argv[3]!, Number(process.argv[4]))
else await runServer()
