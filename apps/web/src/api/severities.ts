import type { Severity } from './types.js'

/** The severities, lowest first, as the server defines them. */
export const SEVERITY_NAMES: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical']
