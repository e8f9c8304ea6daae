// The API package: the server, the pieces `blackhole serve` opens, and the
// database helpers the CLI and tests share.

export { openBlackhole, ConfigError, DEFAULT_WEB_ROOT, type Blackhole, type BlackholeOptions } from './server/app.js'
export { buildServer, BODY_LIMIT, type ServerOptions } from './server/build.js'
export { ApiError, apiError, type ErrorBody, type ErrorCode } from './server/errors.js'
export { FailureLimiter, FAILURE_LIMIT, FAILURE_WINDOW_MS } from './server/auth.js'
export { cachedHostFacts, type HostFacts } from './server/host.js'
export { SERVICE_ACTIONS, type AuditLogPort, type ServiceAction, type SupervisorPort } from './server/ports.js'
export { VERSION } from './server/routes.js'
export {
  AUTH_TIMEOUT_MS,
  CLOSE_BAD_MESSAGE,
  CLOSE_RATE_LIMITED,
  CLOSE_UNAUTHORIZED,
  METRICS_BUFFER_LIMIT,
  type Topic,
} from './server/stream.js'
export { openDatabase, MIGRATIONS_DIR, DATABASE_FILE, type OpenedDatabase } from './db/client.js'
export { storeProfiles, currentProfileYaml, profileSources, type StoredProfile } from './db/profiles.js'
export { createToken, ensureAdminToken, findToken, hashToken, ROLES, type Role, type TokenIdentity } from './db/tokens.js'
export { main } from './cli/main.js'
export type * from './types.js'
