// The dashboard speaks the server's contract, so it reuses the server's
// types instead of restating them. Type-only imports vanish from the bundle.
export type {
  AuditRecord,
  ResourceSample,
  ServiceState,
  ServiceStatus,
  Severity,
} from '../../../api/src/types.js'

import type { AuditRecord, ResourceSample, ServiceStatus } from '../../../api/src/types.js'

/** The messages the server sends on /api/v1/stream. */
export type StreamMessage =
  | { type: 'hello'; services: ServiceStatus[] }
  | { type: 'event'; event: AuditRecord }
  | { type: 'metrics'; samples: ResourceSample[] }
  | { type: 'service'; service: ServiceStatus }

/** The actions `POST /api/v1/services/:name/:action` accepts from the dashboard. */
export type ServiceAction = 'start' | 'stop' | 'terminate' | 'isolate' | 'resume' | 'block' | 'unblock'

/** Facts the server detected about its host; the set of keys may grow. */
export type HostFacts = Record<string, unknown>

export type { Incident, IncidentStatus } from '../../../api/src/detection/incidents.js'
export type { ProcessNode } from '../../../api/src/monitor/process-monitor.js'
export type { Listener, Connection } from '../../../api/src/monitor/network-monitor.js'
export type { HistorySample, MinuteSample } from '../../../api/src/monitor/resource-history.js'
export type { DiffLine } from '../../../api/src/server/routes/line-diff.js'
export type { ProfileIssue } from '../../../api/src/server/routes/profile-yaml.js'
export type { ScoreLine, ScoreResult } from '../../../../packages/policy/src/score.js'
