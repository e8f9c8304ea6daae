// Interfaces of the supervisor and the audit log as the server uses them.
// The real classes (sandbox/supervisor.ts, audit/) satisfy these shapes, and
// the server calls nothing else on them.

import type { EnforceMode, ServiceDefinition } from '@blackhole/policy'
import type { AuditInput, AuditRecord, ResourceSample, ServiceStatus, Severity } from '../types.js'

export type ServiceAction = 'start' | 'stop' | 'terminate' | 'isolate' | 'resume' | 'block' | 'unblock'

export const SERVICE_ACTIONS: readonly ServiceAction[] = [
  'start',
  'stop',
  'terminate',
  'isolate',
  'resume',
  'block',
  'unblock',
]

export interface SupervisorPort {
  list(): ServiceStatus[]
  /** Throws an error with code SERVICE_NOT_FOUND for an unknown name. */
  get(name: string): ServiceStatus
  /** `options.enforceMode` overrides the profile's mode for this one run (learn mode). */
  start(name: string, actor: string, options?: { enforceMode?: EnforceMode }): Promise<unknown>
  stop(name: string, actor: string, options?: { graceMs?: number }): Promise<unknown>
  terminate(name: string, actor: string, options?: { graceMs?: number }): Promise<unknown>
  isolate(name: string, actor: string, reason?: string): Promise<unknown>
  resume(name: string, actor: string): Promise<unknown>
  block(name: string, actor: string, reason?: string): Promise<unknown>
  unblock(name: string, actor: string): Promise<unknown>
  /** Switches a service's seccomp mode; a running service restarts in it. */
  setEnforceMode(name: string, mode: EnforceMode, actor: string): Promise<unknown>
  /** Adds a service or replaces its definition; returns true for a new service. */
  define(name: string, definition: ServiceDefinition): boolean
  /** Removes a stopped service; throws INVALID_STATE for one with a process. */
  remove(name: string): void
  on(event: 'service', listener: (status: ServiceStatus) => void): unknown
  on(event: 'metrics', listener: (samples: ResourceSample[]) => void): unknown
  off(event: 'service', listener: (status: ServiceStatus) => void): unknown
  off(event: 'metrics', listener: (samples: ResourceSample[]) => void): unknown
}

export interface AuditQuery {
  service?: string
  type?: string
  severity?: Severity
  limit?: number
  before?: number
  /** ISO 8601 UTC lower bound on the record time, inclusive. */
  since?: string
  /** ISO 8601 UTC upper bound on the record time. */
  until?: string
}

export interface AuditLogPort {
  append(input: AuditInput): Promise<AuditRecord>
  query(options: AuditQuery): AuditRecord[] | Promise<AuditRecord[]>
  subscribe(listener: (record: AuditRecord) => void): () => void
}
