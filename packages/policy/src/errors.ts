// Errors raised while compiling a valid profile for a particular host.

export type CompileErrorCode = 'LANDLOCK_ABI' | 'LANDLOCK_RULES' | 'PERSISTENT_SOURCE' | 'INVALID_INPUT'

export class PolicyCompileError extends Error {
  override readonly name = 'PolicyCompileError'

  constructor(
    readonly code: CompileErrorCode,
    message: string,
  ) {
    super(message)
  }
}
