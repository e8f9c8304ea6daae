import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { openBlackhole, type Blackhole } from '../../src/server/app.js'
import { CLOSE_TOO_SLOW, CLOSE_UNAUTHORIZED, METRICS_BUFFER_LIMIT } from '../../src/server/stream.js'
import { tempFolder, type TempFolder } from './server-fixture.js'

const ADMIN_TOKEN = 'bh_test-admin-token-for-the-stream-tests'
const AUTH_TIMEOUT_MS = 300

interface Client {
  socket: WebSocket
  messages: { type: string; [key: string]: unknown }[]
  /** Resolves with the first message of `type` received so far or later. */
  next(type: string, timeoutMs?: number): Promise<{ type: string; [key: string]: unknown }>
  closed: Promise<{ code: number; reason: string }>
}

function connect(url: string): Promise<Client> {
  const socket = new WebSocket(url)
  const messages: Client['messages'] = []
  const waiters: (() => void)[] = []
  socket.on('message', (data) => {
    messages.push(JSON.parse(String(data)))
    for (const wake of waiters.splice(0)) wake()
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.on('close', (code, reason) => resolve({ code, reason: String(reason) }))
  })
  const next: Client['next'] = (type, timeoutMs = 3000) =>
    new Promise((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`no "${type}" message within ${timeoutMs} ms`)), timeoutMs)
      const look = () => {
        const found = messages.find((message) => message.type === type)
        if (found) {
          clearTimeout(deadline)
          resolve(found)
        } else waiters.push(look)
      }
      look()
    })
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ socket, messages, next, closed }))
    socket.once('error', reject)
  })
}

describe('WebSocket stream', () => {
  let folder: TempFolder
  let blackhole: Blackhole
  let url: string

  beforeAll(async () => {
    folder = tempFolder()
    blackhole = await openBlackhole({
      configPath: folder.configPath,
      dataDir: folder.dataDir,
      adminToken: ADMIN_TOKEN,
      logger: false,
      webRoot: null,
      cgroupRoot: `blackhole-unit-${process.pid}`,
      streamAuthTimeoutMs: AUTH_TIMEOUT_MS,
    })
    await blackhole.app.listen({ host: '127.0.0.1', port: 0 })
    const address = blackhole.app.server.address()
    if (typeof address !== 'object' || address === null) throw new Error('server has no TCP address')
    url = `ws://127.0.0.1:${address.port}/api/v1/stream`
  })

  afterAll(async () => {
    await blackhole?.close()
    folder?.remove()
  })

  it('sends hello after the auth message, then events', async () => {
    const client = await connect(url)
    client.socket.send(JSON.stringify({ type: 'auth', token: ADMIN_TOKEN }))
    const hello = await client.next('hello')
    const services = hello.services as { name: string }[]
    expect(services.map((service) => service.name).sort()).toEqual(['identity', 'storage'])

    await blackhole.app.inject({ method: 'GET', url: '/api/v1/services', headers: { authorization: 'Bearer bh_wrong' } })
    const message = await client.next('event')
    const event = message.event as { type: string; seq: number; hash: string }
    expect(event.type).toBe('AUTH_FAILED')
    expect(event.hash).toMatch(/^[0-9a-f]{64}$/)
    client.socket.close()
  })

  it('closes with 4401 when no auth message arrives in time', async () => {
    const client = await connect(url)
    const started = Date.now()
    const { code } = await client.closed
    expect(code).toBe(CLOSE_UNAUTHORIZED)
    expect(Date.now() - started).toBeGreaterThanOrEqual(AUTH_TIMEOUT_MS - 50)
    expect(client.messages).toEqual([])
  })

  it('closes with 4401 and records a wrong token', async () => {
    const before = blackhole.audit.query({ type: 'AUTH_FAILED', limit: 1000 }).length
    const client = await connect(url)
    client.socket.send(JSON.stringify({ type: 'auth', token: 'bh_not-a-token' }))
    const { code, reason } = await client.closed
    expect(code).toBe(CLOSE_UNAUTHORIZED)
    expect(reason).toMatch(/^invalid or revoked token/)
    expect(client.messages).toEqual([])
    expect(blackhole.audit.query({ type: 'AUTH_FAILED', limit: 1000 }).length).toBe(before + 1)
  })

  it('closes with 4401 when the first message is not auth', async () => {
    const client = await connect(url)
    client.socket.send(JSON.stringify({ type: 'subscribe', topics: ['events'] }))
    const { code } = await client.closed
    expect(code).toBe(CLOSE_UNAUTHORIZED)
  })

  it('stops sending events after subscribing to services only', async () => {
    const client = await connect(url)
    client.socket.send(JSON.stringify({ type: 'auth', token: ADMIN_TOKEN }))
    await client.next('hello')
    client.socket.send(JSON.stringify({ type: 'subscribe', topics: ['services'] }))
    // The subscribe message has no reply; give the server time to read it.
    await new Promise((resolve) => setTimeout(resolve, 200))
    await blackhole.app.inject({ method: 'GET', url: '/api/v1/services', headers: { authorization: 'Bearer bh_wrong' } })
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(client.messages.filter((message) => message.type === 'event')).toEqual([])
    client.socket.close()
  })

  it('drops metrics but not events for a slow client', async () => {
    const client = await connect(url)
    client.socket.send(JSON.stringify({ type: 'auth', token: ADMIN_TOKEN }))
    await client.next('hello')
    // The client stops reading, so the server's socket buffer grows once the
    // kernel's loopback buffers are full.
    const tcp = (client.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket
    tcp.pause()
    const serverBuffered = () => Math.max(...[...blackhole.app.websocketServer.clients].map((socket) => socket.bufferedAmount))
    const padding = 'x'.repeat(1024)
    let sent = 0
    while (serverBuffered() <= METRICS_BUFFER_LIMIT && sent < 200_000) {
      await blackhole.audit.appendMany(
        Array.from({ length: 2000 }, () => ({
          type: 'PROFILE_WARNING',
          severity: 'info' as const,
          description: `backlog ${sent++}`,
          metadata: { padding },
          actor: 'test',
        })),
      )
    }
    expect(serverBuffered()).toBeGreaterThan(METRICS_BUFFER_LIMIT)

    const sample = (service: string) => ({
      service, time: Date.now(), cpuPercent: 0, memoryBytes: 1, memoryLimitBytes: null, pids: 1, pidsLimit: null, oomKills: 0,
    })
    // The supervisor emits 'metrics' once a second; emitting here picks the moment.
    blackhole.supervisor.emit('metrics', [sample('during-backlog')])
    tcp.resume()

    const received = () =>
      client.messages.filter(
        (message) => message.type === 'event' && (message.event as { description: string }).description.startsWith('backlog '),
      ).length
    const deadline = Date.now() + 30_000
    while (received() < sent && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    expect(received()).toBe(sent)

    blackhole.supervisor.emit('metrics', [sample('after-backlog')])
    const marked = (service: string) =>
      client.messages.some(
        (message) => message.type === 'metrics' && (message.samples as { service: string }[]).some((entry) => entry.service === service),
      )
    const deadlineAfter = Date.now() + 5_000
    while (!marked('after-backlog') && Date.now() < deadlineAfter) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(marked('after-backlog')).toBe(true)
    expect(marked('during-backlog')).toBe(false)
    client.socket.close()
  }, 60_000)

  it('closes the socket on an unknown topic', async () => {
    const client = await connect(url)
    client.socket.send(JSON.stringify({ type: 'auth', token: ADMIN_TOKEN }))
    await client.next('hello')
    client.socket.send(JSON.stringify({ type: 'subscribe', topics: ['everything'] }))
    const { code, reason } = await client.closed
    expect(code).toBe(4400)
    expect(reason).toBe('subscribe message needs "topics", a list drawn from events, metrics, services')
  })

  it('shares one supervisor listener', async () => {
    const before = blackhole.supervisor.listenerCount('service')
    const metricsBefore = blackhole.supervisor.listenerCount('metrics')
    const clients = await Promise.all(Array.from({ length: 12 }, () => connect(url)))
    for (const client of clients) client.socket.send(JSON.stringify({ type: 'auth', token: ADMIN_TOKEN }))
    await Promise.all(clients.map((client) => client.next('hello')))
    expect(blackhole.supervisor.listenerCount('service')).toBe(before)
    expect(blackhole.supervisor.listenerCount('metrics')).toBe(metricsBefore)
    for (const client of clients) client.socket.close()
  })
})

describe('WebSocket stream with a client that stops reading', () => {
  let folder: TempFolder
  let blackhole: Blackhole
  let url: string

  beforeAll(async () => {
    folder = tempFolder()
    blackhole = await openBlackhole({
      configPath: folder.configPath,
      dataDir: folder.dataDir,
      adminToken: ADMIN_TOKEN,
      logger: false,
      webRoot: null,
      cgroupRoot: `blackhole-unit-slow-${process.pid}`,
      streamSlowClientLimit: 256 * 1024,
    })
    await blackhole.app.listen({ host: '127.0.0.1', port: 0 })
    const address = blackhole.app.server.address()
    if (typeof address !== 'object' || address === null) throw new Error('server has no TCP address')
    url = `ws://127.0.0.1:${address.port}/api/v1/stream`
  })

  afterAll(async () => {
    await blackhole?.close()
    folder?.remove()
  })

  it('closes the client instead of buffering without bound', async () => {
    const client = await connect(url)
    client.socket.send(JSON.stringify({ type: 'auth', token: ADMIN_TOKEN }))
    await client.next('hello')
    const tcp = (client.socket as unknown as { _socket: { pause(): void } })._socket
    tcp.pause()
    const padding = 'x'.repeat(1024)
    for (let round = 0; round < 50 && blackhole.app.websocketServer.clients.size > 0; round++) {
      await blackhole.audit.appendMany(
        Array.from({ length: 500 }, (_, i) => ({
          type: 'PROFILE_WARNING', severity: 'info' as const, description: `flood ${round}/${i}`, metadata: { padding }, actor: 'test',
        })),
      )
    }
    const serverSide = [...blackhole.app.websocketServer.clients]
    expect(serverSide.every((socket) => socket.readyState !== socket.OPEN)).toBe(true)
    ;(client.socket as unknown as { _socket: { resume(): void } })._socket.resume()
    const { code } = await client.closed
    expect(code).toBe(CLOSE_TOO_SLOW)
  })
})
