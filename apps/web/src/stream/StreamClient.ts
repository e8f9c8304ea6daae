import type { StreamMessage } from '../api/types.js'
import { backoffDelay } from './backoffDelay.js'

export type StreamStatus =
  | 'connecting'
  | 'authenticating'
  | 'open'
  | 'reconnecting'
  | 'rejected'
  | 'closed'

export interface StreamState {
  status: StreamStatus
  /** Reconnect attempts since the last successful hello. */
  attempt: number
  /** When the next attempt starts, in milliseconds since the epoch. */
  retryAt: number | null
  /** True while the tab is hidden and updates are queued. */
  paused: boolean
  /** Close code and reason of the last dropped connection. */
  lastClose: string | null
}

export interface StreamClientOptions {
  url: string
  onMessage: (message: StreamMessage) => void
  onState: (state: StreamState) => void
  /**
   * Called on resume when more messages arrived while paused than the
   * queue keeps, so the caller should refetch services and events.
   */
  onGap?: () => void
  /** Called when the server closes with authRejectedCode or rateLimitedCode, so the caller can check the session. */
  onRejected?: () => void
  /** Injected so tests can run the client without a browser socket. */
  createSocket?: (url: string) => WebSocket
  random?: () => number
}

/** The server closes with this code when the session cookie (or auth message) is missing or wrong. */
export const authRejectedCode = 4401

/**
 * The server closes with this code when the credentials failed and the
 * address is rate limited. A valid session passes the limit, so this also
 * means the cookie failed, and retrying would only add failures.
 */
export const rateLimitedCode = 4429

// WebSocket.CONNECTING and OPEN, spelled out because Node 20 (the test
// runner) has no global WebSocket.
const socketConnecting = 0
const socketOpen = 1

/** Messages queued while paused; past this the oldest are dropped. */
export const maxHeldMessages = 1000

const allTopics = ['events', 'metrics', 'services']
const hiddenTopics = ['events', 'services']

/**
 * A WebSocket client for /api/v1/stream. The server authenticates the
 * handshake by its session cookie and sends hello once it accepts it, so the
 * client sends no auth message. It reconnects with exponential backoff
 * after any close other than an auth rejection or rate limit, and while
 * paused it unsubscribes from metrics and queues other messages until
 * resume.
 */
export class StreamClient {
  private readonly options: StreamClientOptions
  private socket: WebSocket | null = null
  private retryTimer: ReturnType<typeof setTimeout> | null = null
  private stopped = false
  private held: StreamMessage[] = []
  private heldOverflow = false
  private state: StreamState = {
    status: 'connecting',
    attempt: 0,
    retryAt: null,
    paused: false,
    lastClose: null,
  }

  constructor(options: StreamClientOptions) {
    this.options = options
  }

  start(): void {
    this.stopped = false
    this.connect()
  }

  stop(): void {
    this.stopped = true
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    this.retryTimer = null
    const socket = this.socket
    this.socket = null
    if (socket !== null) {
      // Closing a socket that is still connecting makes browsers log an
      // error, so it is closed once it opens.
      const close = () => socket.close(1000, 'dashboard closed')
      if (socket.readyState === socketConnecting) socket.addEventListener('open', close)
      else close()
    }
    this.update({ status: 'closed', retryAt: null })
  }

  /** Queues updates and unsubscribes from metrics while `paused` is true. */
  setPaused(paused: boolean): void {
    if (paused === this.state.paused) return
    this.update({ paused })
    this.sendSubscribe()
    if (paused) return
    const held = this.held
    const overflow = this.heldOverflow
    this.held = []
    this.heldOverflow = false
    for (const message of held) this.options.onMessage(message)
    if (overflow) this.options.onGap?.()
  }

  private connect(): void {
    this.retryTimer = null
    this.update({ status: 'connecting', retryAt: null })
    const create = this.options.createSocket ?? ((url: string) => new WebSocket(url))
    const socket = create(this.options.url)
    this.socket = socket

    socket.addEventListener('open', () => {
      if (socket !== this.socket) return
      // The server checks the session cookie from the handshake and then sends hello.
      this.update({ status: 'authenticating' })
    })

    socket.addEventListener('message', (event) => {
      if (socket !== this.socket) return
      this.receive(event.data)
    })

    socket.addEventListener('close', (event) => {
      if (socket !== this.socket) return
      this.socket = null
      const lastClose = `${event.code}${event.reason ? ` ${event.reason}` : ''}`
      if (this.stopped) return
      if (event.code === authRejectedCode || event.code === rateLimitedCode) {
        this.update({ status: 'rejected', retryAt: null, lastClose })
        this.options.onRejected?.()
        return
      }
      this.scheduleReconnect(lastClose)
    })
  }

  private receive(data: unknown): void {
    if (typeof data !== 'string') return
    let message: StreamMessage
    try {
      message = JSON.parse(data) as StreamMessage
    } catch {
      return
    }
    if (message.type === 'hello') {
      this.update({ status: 'open', attempt: 0, lastClose: null })
      // Subscribing before hello could race the server's session check.
      if (this.state.paused) this.sendSubscribe()
    }
    if (this.state.paused && message.type !== 'hello') {
      this.hold(message)
      return
    }
    this.options.onMessage(message)
  }

  private hold(message: StreamMessage): void {
    // Metrics are unsubscribed while paused, and a late one is stale anyway.
    if (message.type === 'metrics') return
    if (message.type === 'service') {
      const name = message.service.name
      this.held = this.held.filter((held) => held.type !== 'service' || held.service.name !== name)
    }
    this.held.push(message)
    if (this.held.length > maxHeldMessages) {
      this.held.shift()
      this.heldOverflow = true
    }
  }

  private scheduleReconnect(lastClose: string): void {
    const delay = backoffDelay(this.state.attempt, this.options.random)
    this.update({
      status: 'reconnecting',
      attempt: this.state.attempt + 1,
      retryAt: Date.now() + delay,
      lastClose,
    })
    this.retryTimer = setTimeout(() => this.connect(), delay)
  }

  private sendSubscribe(): void {
    const socket = this.socket
    if (socket === null || socket.readyState !== socketOpen) return
    const topics = this.state.paused ? hiddenTopics : allTopics
    socket.send(JSON.stringify({ type: 'subscribe', topics }))
  }

  private update(patch: Partial<StreamState>): void {
    this.state = { ...this.state, ...patch }
    this.options.onState(this.state)
  }
}
