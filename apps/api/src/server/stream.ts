import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import type { TokenIdentity } from '../db/tokens.js'
import type { AuditRecord, ResourceSample, ServiceStatus } from '../types.js'
import { cookieValue, SESSION_COOKIE, type Authenticator } from './auth.js'
import { apiError, ApiError } from './errors.js'
import type { AuditLogPort, SupervisorPort } from './ports.js'

export const AUTH_TIMEOUT_MS = 5_000
/** Close code for a missing, late or invalid auth message (4000-4999 are for applications). */
export const CLOSE_UNAUTHORIZED = 4401
export const CLOSE_RATE_LIMITED = 4429
export const CLOSE_BAD_MESSAGE = 4400
/** Above this many buffered bytes a client gets no metrics until it catches up; events are always sent. */
export const METRICS_BUFFER_LIMIT = 1024 * 1024
/**
 * A client whose unsent data passes this is closed: events and service
 * changes are never dropped one by one, so a reader that stops reading
 * would otherwise grow the server's memory without bound. The dashboard
 * reconnects and refetches what it missed.
 */
export const SLOW_CLIENT_BUFFER_LIMIT = 16 * 1024 * 1024
export const CLOSE_TOO_SLOW = 4408
// Client messages are small JSON objects; anything larger is a mistake or abuse.
const MAX_CLIENT_MESSAGE_BYTES = 4096

export type Topic = 'events' | 'metrics' | 'services'
const TOPICS: readonly Topic[] = ['events', 'metrics', 'services']

export interface StreamDependencies {
  authenticator: Authenticator
  audit: AuditLogPort
  supervisor: SupervisorPort
  authTimeoutMs: number
  /** Unsent bytes after which a client is closed (SLOW_CLIENT_BUFFER_LIMIT by default). */
  slowClientLimit: number
}

type ClientMessage = { type: 'auth'; token: string } | { type: 'subscribe'; topics: Topic[] }

function parseClientMessage(data: Buffer): ClientMessage | string {
  if (data.length > MAX_CLIENT_MESSAGE_BYTES) return `message too large; the limit is ${MAX_CLIENT_MESSAGE_BYTES} bytes`
  let value: unknown
  try {
    value = JSON.parse(data.toString('utf8'))
  } catch {
    return 'message is not valid JSON'
  }
  if (typeof value !== 'object' || value === null) return 'message must be a JSON object'
  const message = value as Record<string, unknown>
  if (message.type === 'auth') {
    if (typeof message.token !== 'string' || message.token === '') return 'auth message needs a "token" string'
    return { type: 'auth', token: message.token }
  }
  if (message.type === 'subscribe') {
    const topics = message.topics
    if (!Array.isArray(topics) || !topics.every((topic) => TOPICS.includes(topic as Topic))) {
      return `subscribe message needs "topics", a list drawn from ${TOPICS.join(', ')}`
    }
    return { type: 'subscribe', topics: topics as Topic[] }
  }
  return `unknown message type ${JSON.stringify(message.type)}; expected auth or subscribe`
}

/**
 * Returns true when the handshake's Origin header, if any, names the host
 * the request was sent to. A page on another site could otherwise open the
 * socket with the user's session cookie, because the WebSocket handshake is
 * exempt from the same-origin policy.
 */
function sameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin
  if (origin === undefined) return true
  try {
    return new URL(origin).host === request.headers.host
  } catch {
    return false
  }
}

/**
 * One client connection. Browsers cannot set headers on a WebSocket, so the
 * client authenticates with its session cookie or with a token in its first
 * message. Until then it receives nothing.
 */
class StreamClient {
  private identity: TokenIdentity | null = null
  /** Set once a cookie or token check has begun, so a client is subscribed at most once. */
  private authStarted = false
  private topics = new Set<Topic>(TOPICS)
  private readonly unsubscribers: (() => void)[] = []
  private readonly authTimer: NodeJS.Timeout
  /** Metrics messages skipped because the socket buffer was full. */
  droppedMetrics = 0

  constructor(
    private readonly socket: WebSocket,
    private readonly request: FastifyRequest,
    private readonly deps: StreamDependencies,
    private readonly fanout: SupervisorFanout,
  ) {
    const seconds = deps.authTimeoutMs / 1000
    this.authTimer = setTimeout(() => this.close(CLOSE_UNAUTHORIZED, `no auth message within ${seconds} s`), deps.authTimeoutMs)
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.close(CLOSE_BAD_MESSAGE, 'binary messages are not supported; send JSON text')
      else {
        this.onMessage(data).catch((error: unknown) => {
          request.log.warn({ err: error }, 'stream message handling failed')
          this.close(CLOSE_BAD_MESSAGE, 'the message could not be handled')
        })
      }
    })
    socket.on('close', () => this.dispose())
    socket.on('error', (error) => request.log.info({ err: error }, 'stream socket error'))
    const sessionId = cookieValue(request.headers.cookie, SESSION_COOKIE)
    if (sessionId !== null && sessionId !== '' && sameOrigin(request)) void this.authenticateSession(sessionId)
  }

  private async authenticateSession(sessionId: string): Promise<void> {
    this.authStarted = true
    clearTimeout(this.authTimer)
    try {
      const { identity } = await this.deps.authenticator.checkSession(sessionId, {
        address: this.request.ip,
        method: 'GET',
        url: this.request.url,
      })
      this.identity = identity
    } catch (error) {
      const rateLimited = error instanceof ApiError && error.code === 'RATE_LIMITED'
      this.close(rateLimited ? CLOSE_RATE_LIMITED : CLOSE_UNAUTHORIZED, error instanceof Error ? error.message : 'unauthorized')
      return
    }
    if (this.socket.readyState !== this.socket.OPEN) return
    this.send({ type: 'hello', services: this.deps.supervisor.list() })
    this.subscribe()
  }

  private async onMessage(data: Buffer): Promise<void> {
    const message = parseClientMessage(data)
    if (typeof message === 'string') {
      this.close(this.identity === null ? CLOSE_UNAUTHORIZED : CLOSE_BAD_MESSAGE, message)
      return
    }
    if (message.type === 'auth') {
      if (this.authStarted) return
      await this.authenticate(message.token)
      return
    }
    if (this.identity === null) {
      this.close(CLOSE_UNAUTHORIZED, 'the first message must be {"type":"auth","token":"..."}')
      return
    }
    this.topics = new Set(message.topics)
  }

  private async authenticate(token: string): Promise<void> {
    this.authStarted = true
    clearTimeout(this.authTimer)
    try {
      this.identity = await this.deps.authenticator.check(token, {
        address: this.request.ip,
        method: 'GET',
        url: this.request.url,
      })
    } catch (error) {
      const rateLimited = error instanceof ApiError && error.code === 'RATE_LIMITED'
      this.close(rateLimited ? CLOSE_RATE_LIMITED : CLOSE_UNAUTHORIZED, error instanceof Error ? error.message : 'unauthorized')
      return
    }
    if (this.socket.readyState !== this.socket.OPEN) return
    this.send({ type: 'hello', services: this.deps.supervisor.list() })
    this.subscribe()
  }

  private subscribe(): void {
    const { audit } = this.deps
    this.unsubscribers.push(
      audit.subscribe((event: AuditRecord) => {
        if (this.topics.has('events')) this.send({ type: 'event', event })
      }),
    )
    const onService = (service: ServiceStatus) => {
      if (this.topics.has('services')) this.send({ type: 'service', service })
    }
    const onMetrics = (samples: ResourceSample[]) => {
      if (!this.topics.has('metrics')) return
      if (this.socket.bufferedAmount > METRICS_BUFFER_LIMIT) {
        this.droppedMetrics++
        return
      }
      this.send({ type: 'metrics', samples })
    }
    this.unsubscribers.push(this.fanout.add(onService, onMetrics))
  }

  private send(message: unknown): void {
    if (this.socket.readyState !== this.socket.OPEN) return
    if (this.socket.bufferedAmount > this.deps.slowClientLimit) {
      this.request.log.info({ bufferedAmount: this.socket.bufferedAmount }, 'closing a stream client that stopped reading')
      this.close(CLOSE_TOO_SLOW, 'the client is not reading fast enough; reconnect and fetch what was missed')
      return
    }
    this.socket.send(JSON.stringify(message))
  }

  private close(code: number, reason: string): void {
    try {
      this.socket.close(code, closeReason(reason))
    } catch (error) {
      // A socket that is already closing rejects a second close; end it.
      this.request.log.info({ err: error }, 'closing the stream socket failed')
      this.socket.terminate()
    }
    this.dispose()
  }

  private dispose(): void {
    clearTimeout(this.authTimer)
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe()
    if (this.droppedMetrics > 0) {
      this.request.log.info({ droppedMetrics: this.droppedMetrics }, 'stream client was sent fewer metrics than produced')
      this.droppedMetrics = 0
    }
  }
}

/**
 * One pair of supervisor listeners shared by every client. A listener per
 * client made the supervisor warn about a likely leak past ten clients.
 */
class SupervisorFanout {
  private readonly services = new Set<(status: ServiceStatus) => void>()
  private readonly metrics = new Set<(samples: ResourceSample[]) => void>()
  private readonly onService = (status: ServiceStatus) => {
    for (const listener of this.services) listener(status)
  }
  private readonly onMetrics = (samples: ResourceSample[]) => {
    for (const listener of this.metrics) listener(samples)
  }

  constructor(private readonly supervisor: SupervisorPort) {
    supervisor.on('service', this.onService)
    supervisor.on('metrics', this.onMetrics)
  }

  /** Adds a client's listeners and returns the function that removes them. */
  add(onService: (status: ServiceStatus) => void, onMetrics: (samples: ResourceSample[]) => void): () => void {
    this.services.add(onService)
    this.metrics.add(onMetrics)
    return () => {
      this.services.delete(onService)
      this.metrics.delete(onMetrics)
    }
  }

  close(): void {
    this.supervisor.off('service', this.onService)
    this.supervisor.off('metrics', this.onMetrics)
  }
}

/** Registers the WebSocket at /api/v1/stream; the @fastify/websocket plugin must be registered first. */
export function registerStream(app: FastifyInstance, deps: StreamDependencies): void {
  const fanout = new SupervisorFanout(deps.supervisor)
  app.addHook('onClose', async () => fanout.close())
  app.route({
    method: 'GET',
    url: '/api/v1/stream',
    config: { public: true },
    handler: async () => {
      throw apiError('UPGRADE_REQUIRED', 'GET /api/v1/stream')
    },
    wsHandler: (socket, request) => {
      new StreamClient(socket, request, deps, fanout)
    },
  })
}

/**
 * Cuts a close reason to the protocol's 123-byte limit on a character
 * boundary: cutting the UTF-8 bytes could split a character, and the
 * replacement character would push the reason over the limit again.
 */
export function closeReason(reason: string): string {
  let result = ''
  let bytes = 0
  for (const character of reason) {
    const size = Buffer.byteLength(character)
    if (bytes + size > 123) break
    result += character
    bytes += size
  }
  return result
}
