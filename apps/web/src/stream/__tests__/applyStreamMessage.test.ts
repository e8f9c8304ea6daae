import { QueryClient } from '@tanstack/react-query'
import { describe, expect, it } from 'vitest'
import { queryKeys, type MetricsHistory } from '../../api/queryKeys.js'
import type { AuditRecord, ServiceStatus } from '../../api/types.js'
import { applyStreamMessage } from '../applyStreamMessage.js'

function service(name: string, state: ServiceStatus['state']): ServiceStatus {
  return {
    name,
    profile: name,
    state,
    pid: state === 'running' ? 100 : null,
    uid: 61000,
    gid: 61000,
    blocked: false,
    startedAt: null,
    exitCode: null,
    exitSignal: null,
    restarts: 0,
    lastError: null,
    command: ['/bin/sleep', 'infinity'],
    ready: false,
    statusText: null,
    enforceMode: null,
  }
}

function event(seq: number): AuditRecord {
  return {
    seq,
    time: '2026-01-01T00:00:00.000Z',
    service: 'identity',
    pid: null,
    type: 'SERVICE_TERMINATED',
    severity: 'high',
    description: 'terminated',
    metadata: {},
    actor: 'token:admin',
    prevHash: '',
    hash: '',
    hmac: null,
  }
}

describe('applyStreamMessage', () => {
  it('should replace services on hello', () => {
    const client = new QueryClient()
    client.setQueryData(queryKeys.services, [service('old', 'running')])
    applyStreamMessage(client, { type: 'hello', services: [service('identity', 'running')] })
    const names = client.getQueryData<ServiceStatus[]>(queryKeys.services)!.map((s) => s.name)
    expect(names).toEqual(['identity'])
  })

  it('should refetch events only on reconnect', () => {
    const client = new QueryClient()
    client.setQueryData(queryKeys.events, [event(1)])
    applyStreamMessage(client, { type: 'hello', services: [] })
    expect(client.getQueryState(queryKeys.events)!.isInvalidated).toBe(false)
    applyStreamMessage(client, { type: 'hello', services: [] }, true)
    expect(client.getQueryState(queryKeys.events)!.isInvalidated).toBe(true)
  })

  it('should update one service in place', () => {
    const client = new QueryClient()
    client.setQueryData(queryKeys.services, [service('identity', 'running'), service('storage', 'running')])
    applyStreamMessage(client, { type: 'service', service: service('identity', 'stopped') })
    const list = client.getQueryData<ServiceStatus[]>(queryKeys.services)!
    expect(list.map((s) => s.name)).toEqual(['identity', 'storage'])
    expect(list[0]!.state).toBe('stopped')
    expect(list[1]!.state).toBe('running')
  })

  it('should append an unknown service', () => {
    const client = new QueryClient()
    client.setQueryData(queryKeys.services, [service('identity', 'running')])
    applyStreamMessage(client, { type: 'service', service: service('storage', 'starting') })
    const names = client.getQueryData<ServiceStatus[]>(queryKeys.services)!.map((s) => s.name)
    expect(names).toEqual(['identity', 'storage'])
  })

  it('should prepend events', () => {
    const client = new QueryClient()
    client.setQueryData(queryKeys.events, [event(1)])
    applyStreamMessage(client, { type: 'event', event: event(2) })
    const seqs = client.getQueryData<AuditRecord[]>(queryKeys.events)!.map((e) => e.seq)
    expect(seqs).toEqual([2, 1])
  })

  it('should record metrics samples', () => {
    const client = new QueryClient()
    const sample = {
      service: 'identity',
      time: 1,
      cpuPercent: 3,
      memoryBytes: 4096,
      memoryLimitBytes: 8192,
      pids: 2,
      pidsLimit: 16,
      oomKills: 0,
    }
    applyStreamMessage(client, { type: 'metrics', samples: [sample] })
    const history = client.getQueryData<MetricsHistory>(queryKeys.metrics)!
    expect(history.identity).toEqual([sample])
  })
})
