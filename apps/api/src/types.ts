// Types shared by the supervisor, the audit log and the HTTP server.

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical'

export const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical']

/**
 * Event types. Lifecycle: SERVICE_STARTED, SERVICE_EXITED (with code or
 * signal), SERVICE_STOPPED, SERVICE_TERMINATED, SERVICE_ISOLATED,
 * SERVICE_RESUMED, SERVICE_BLOCKED, SERVICE_UNBLOCKED, LAUNCH_FAILED (with
 * the failed step). Kernel: ACCESS_DENIED (enforce), SYSCALL_VIOLATION
 * (permissive), SYSCALL_OBSERVED (execve, connect, bind), LANDLOCK_DENIED,
 * OOM_KILL. Control plane: SUPERVISOR_STARTED, SUPERVISOR_STOPPED,
 * PROFILE_WARNING, AUTH_FAILED, AUDIT_GENESIS, AUDIT_RECOVERED, AUDIT_PRUNED,
 * NOTIFY_DROPPED, SERVICE_READY, CONTROL_REJECTED. Learn mode: LEARN_STARTED,
 * LEARN_COMPLETED, LEARN_APPLIED. ENFORCE_MODE_CHANGED.
 */
export type EventType = string

/** Input of one audit record from a producer. The log adds seq, time and hashes. */
export interface AuditInput {
  service?: string | null
  pid?: number | null
  type: EventType
  severity: Severity
  description: string
  metadata?: Record<string, unknown>
  /** The requester: `token:<name>`, `user:<name>`, `rule:<name>`, `supervisor` or `cli`. */
  actor?: string | null
}

/** A stored audit record. */
export interface AuditRecord {
  seq: number
  /** ISO 8601 UTC with milliseconds. */
  time: string
  service: string | null
  pid: number | null
  type: EventType
  severity: Severity
  description: string
  metadata: Record<string, unknown>
  actor: string | null
  prevHash: string
  hash: string
  hmac: string | null
}

export type ServiceState = 'running' | 'stopped' | 'failed' | 'isolated' | 'starting' | 'stopping'

export interface ServiceStatus {
  name: string
  profile: string
  state: ServiceState
  pid: number | null
  uid: number | null
  gid: number | null
  /** True while the network is cut (isolate or block). */
  blocked: boolean
  startedAt: string | null
  exitCode: number | null
  exitSignal: string | null
  restarts: number
  /** The last launch error, such as `mount tmpfs /var/log/x: Operation not permitted (EPERM)`. */
  lastError: string | null
  command: string[]
  /** True after the service sent READY=1 on its control socket. */
  ready: boolean
  /** The last STATUS= text the service sent on its control socket. */
  statusText: string | null
  /** Seccomp mode of the current or last process: enforce, permissive or disabled; null before the first start. */
  enforceMode: 'enforce' | 'permissive' | 'disabled' | null
}

export interface ResourceSample {
  service: string
  /** Milliseconds since the epoch. */
  time: number
  /** CPU use over the last interval, 100 = one full CPU. */
  cpuPercent: number
  memoryBytes: number
  memoryLimitBytes: number | null
  pids: number
  pidsLimit: number | null
  oomKills: number
}
