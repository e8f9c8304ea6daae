// Errors the supervisor raises. Each has a stable `code` and the HTTP
// `statusCode` the server responds with, so routes map them without a table.

export class SandboxError extends Error {
  readonly code: string
  readonly statusCode: number

  constructor(code: string, statusCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
    this.statusCode = statusCode
  }
}

/** A service name that is not in the config. */
export class ServiceNotFoundError extends SandboxError {
  constructor(name: string, known: string[]) {
    const list = known.length === 0 ? 'none' : known.join(', ')
    super('SERVICE_NOT_FOUND', 404, `service "${name}" not found; known services: ${list}`)
  }
}

/** An action that the service's current state does not allow, such as resuming a running service. */
export class InvalidStateError extends SandboxError {
  constructor(message: string) {
    super('INVALID_STATE', 409, message)
  }
}

/** A profile name that is not in the config. */
export class ProfileNotFoundError extends SandboxError {
  constructor(name: string, known: string[]) {
    const list = known.length === 0 ? 'none' : known.join(', ')
    super('PROFILE_NOT_FOUND', 404, `profile "${name}" not found; known profiles: ${list}`)
  }
}

/** A cgroup file or folder the supervisor could not create, write or remove. */
export class CgroupError extends SandboxError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CGROUP_ERROR', 500, message, options)
  }
}
