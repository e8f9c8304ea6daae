import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { AuditRecord, ServiceStatus, StreamMessage } from '../../api/types.js'
import { maxHeldMessages, StreamClient, type StreamState } from '../StreamClient.js'

type Listener = (event: { data?: unknown; code?: number; reason?: string }) => void

/** A socket double with the WebSocket surface StreamClient uses. */
class FakeSocket {
  readyState = 0
  sent: unknown[] = []
  closedWith: [number | undefined, string | undefined] | null = null
  private listeners = new Map<string, Listener[]>()

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener])
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data))
  }

  close(code?: number, reason?: string): void {
    this.closedWith = [code, reason]
  }

  open(): void {
    this.readyState = 1
    this.emit('open', {})
  }

  receive(message: StreamMessage): void {
    this.receiveText(JSON.stringify(message))
  }

  receiveText(text: string): void {
    this.emit('message', { data: text })
  }

  drop(code: number, reason = ''): void {
    this.readyState = 3
    this.emit('close', { code, reason })
  }

  private emit(type: string, event: Parameters<Listener>[0]): void {
    for (const listener of this.listeners.get(type) ?? []) listener(event)
  }
}

function event(seq: number): AuditRecord {
  return {
    seq,
    time: '2026-01-01T00:00:00.000Z',
    service: 'identity',
    pid: null,
    type: 'SERVICE_STARTED',
    severity: 'info',
    description: 'started',
    metadata: {},
    actor: 'supervisor',
    prevHash: 'a',
    hash: 'b',
    hmac: null,
  }
}

function service(name: string, state: ServiceStatus['state']): ServiceStatus {
  return {
    name,
    profile: name,
    state,
    pid: null,
    uid: null,
    gid: null,
    blocked: false,
    startedAt: null,
    exitCode: null,
    exitSignal: null,
    restarts: 0,
    lastError: null,
    command: [],
    ready: false,
    statusText: null,
    enforceMode: null,
  }
}

function setup() {
  const sockets: FakeSocket[] = []
  const messages: StreamMessage[] = []
  const states: StreamState[] = []
  const gaps: number[] = []
  const rejections: number[] = []
  const client = new StreamClient({
    url: 'ws://127.0.0.1/api/v1/stream',
    onMessage: (message) => messages.push(message),
    onState: (state) => states.push(state),
    onGap: () => gaps.push(messages.length),
    onRejected: () => rejections.push(sockets.length),
    createSocket: () => {
      const socket = new FakeSocket()
      sockets.push(socket)
      return socket as unknown as WebSocket
    },
    random: () => 0.5,
  })
  const lastState = () => states.at(-1)!
  return { client, sockets, messages, lastState, gaps, rejections }
}

describe('StreamClient', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })

  afterEach(() => {
    vi.useRealTimers()
  })

  it('should wait for hello without sending', () => {
    const { client, sockets, lastState } = setup()
    client.start()
    expect(lastState().status).toBe('connecting')
    sockets[0]!.open()
    expect(sockets[0]!.sent).toEqual([])
    expect(lastState().status).toBe('authenticating')
  })

  it('should be open after hello', () => {
    const { client, sockets, messages, lastState } = setup()
    client.start()
    sockets[0]!.open()
    sockets[0]!.receive({ type: 'hello', services: [] })
    expect(lastState().status).toBe('open')
    expect(messages).toEqual([{ type: 'hello', services: [] }])
  })

  it('should reconnect with growing delays', () => {
    const { client, sockets, lastState } = setup()
    client.start()
    sockets[0]!.drop(1006)
    expect(lastState().status).toBe('reconnecting')
    expect(lastState().attempt).toBe(1)
    expect(lastState().lastClose).toBe('1006')

    vi.advanceTimersByTime(999)
    expect(sockets).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(sockets).toHaveLength(2)

    sockets[1]!.drop(1011, 'server error')
    expect(lastState().attempt).toBe(2)
    expect(lastState().lastClose).toBe('1011 server error')
    vi.advanceTimersByTime(1_999)
    expect(sockets).toHaveLength(2)
    vi.advanceTimersByTime(1)
    expect(sockets).toHaveLength(3)
  })

  it('should reset the backoff after hello', () => {
    const { client, sockets, lastState } = setup()
    client.start()
    sockets[0]!.drop(1006)
    vi.advanceTimersByTime(1_000)
    sockets[1]!.open()
    sockets[1]!.receive({ type: 'hello', services: [] })
    expect(lastState().attempt).toBe(0)

    sockets[1]!.drop(1006)
    vi.advanceTimersByTime(1_000)
    expect(sockets).toHaveLength(3)
  })

  it('should stop retrying on 4401', () => {
    const { client, sockets, lastState, rejections } = setup()
    client.start()
    sockets[0]!.open()
    sockets[0]!.drop(4401, 'invalid or expired session; sign in again')
    expect(lastState().status).toBe('rejected')
    expect(lastState().lastClose).toBe('4401 invalid or expired session; sign in again')
    expect(rejections).toEqual([1])
    vi.advanceTimersByTime(60_000)
    expect(sockets).toHaveLength(1)
  })

  it('should stop retrying on 4429', () => {
    const { client, sockets, lastState, rejections } = setup()
    client.start()
    sockets[0]!.open()
    sockets[0]!.drop(4429, 'too many failed authentication attempts')
    expect(lastState().status).toBe('rejected')
    expect(rejections).toEqual([1])
    vi.advanceTimersByTime(60_000)
    expect(sockets).toHaveLength(1)
  })

  it('should not report other closes as rejected', () => {
    const { client, sockets, rejections } = setup()
    client.start()
    sockets[0]!.open()
    sockets[0]!.drop(1006)
    expect(rejections).toEqual([])
  })

  it('should not reconnect after stop', () => {
    const { client, sockets, lastState } = setup()
    client.start()
    sockets[0]!.open()
    client.stop()
    expect(sockets[0]!.closedWith).toEqual([1000, 'dashboard closed'])
    sockets[0]!.drop(1000)
    vi.advanceTimersByTime(60_000)
    expect(sockets).toHaveLength(1)
    expect(lastState().status).toBe('closed')
  })

  it('should close a connecting socket once open', () => {
    const { client, sockets } = setup()
    client.start()
    client.stop()
    expect(sockets[0]!.closedWith).toBeNull()
    sockets[0]!.open()
    expect(sockets[0]!.closedWith).toEqual([1000, 'dashboard closed'])
    expect(sockets[0]!.sent).toEqual([])
  })

  it('should cancel a pending retry on stop', () => {
    const { client, sockets } = setup()
    client.start()
    sockets[0]!.drop(1006)
    client.stop()
    vi.advanceTimersByTime(60_000)
    expect(sockets).toHaveLength(1)
  })

  it('should queue updates while paused', () => {
    const { client, sockets, messages, lastState } = setup()
    client.start()
    sockets[0]!.open()
    sockets[0]!.receive({ type: 'hello', services: [] })
    client.setPaused(true)
    expect(lastState().paused).toBe(true)
    expect(sockets[0]!.sent.at(-1)).toEqual({ type: 'subscribe', topics: ['events', 'services'] })

    sockets[0]!.receive({ type: 'event', event: event(1) })
    sockets[0]!.receive({ type: 'metrics', samples: [] })
    sockets[0]!.receive({ type: 'event', event: event(2) })
    expect(messages).toHaveLength(1)

    client.setPaused(false)
    expect(sockets[0]!.sent.at(-1)).toEqual({ type: 'subscribe', topics: ['events', 'metrics', 'services'] })
    expect(messages.slice(1)).toEqual([
      { type: 'event', event: event(1) },
      { type: 'event', event: event(2) },
    ])
  })

  it('should keep the latest status per service', () => {
    const { client, sockets, messages } = setup()
    client.start()
    sockets[0]!.open()
    sockets[0]!.receive({ type: 'hello', services: [] })
    client.setPaused(true)
    sockets[0]!.receive({ type: 'service', service: service('identity', 'stopping') })
    sockets[0]!.receive({ type: 'event', event: event(1) })
    sockets[0]!.receive({ type: 'service', service: service('identity', 'stopped') })
    client.setPaused(false)
    expect(messages.slice(1)).toEqual([
      { type: 'event', event: event(1) },
      { type: 'service', service: service('identity', 'stopped') },
    ])
  })

  it('should report a gap after overflow', () => {
    const { client, sockets, messages, gaps } = setup()
    client.start()
    sockets[0]!.open()
    sockets[0]!.receive({ type: 'hello', services: [] })
    client.setPaused(true)
    for (let seq = 1; seq <= maxHeldMessages + 5; seq++) sockets[0]!.receive({ type: 'event', event: event(seq) })
    client.setPaused(false)
    expect(messages).toHaveLength(1 + maxHeldMessages)
    expect(messages[1]).toEqual({ type: 'event', event: event(6) })
    expect(gaps).toEqual([1 + maxHeldMessages])
  })

  it('should report no gap without overflow', () => {
    const { client, sockets, gaps } = setup()
    client.start()
    sockets[0]!.open()
    sockets[0]!.receive({ type: 'hello', services: [] })
    client.setPaused(true)
    sockets[0]!.receive({ type: 'event', event: event(1) })
    client.setPaused(false)
    expect(gaps).toEqual([])
  })

  it('should subscribe after hello when paused early', () => {
    const { client, sockets } = setup()
    client.setPaused(true)
    client.start()
    sockets[0]!.open()
    expect(sockets[0]!.sent).toEqual([])
    sockets[0]!.receive({ type: 'hello', services: [] })
    expect(sockets[0]!.sent.at(-1)).toEqual({ type: 'subscribe', topics: ['events', 'services'] })
  })

  it('should ignore messages that are not JSON', () => {
    const { client, sockets, messages } = setup()
    client.start()
    sockets[0]!.open()
    sockets[0]!.receiveText('not json')
    expect(messages).toHaveLength(0)
  })
})
