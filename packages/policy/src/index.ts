export type * from './launch-spec.js'
export type * from './profile.js'
export type * from './config.js'
export { parseConfig, loadConfigFile, formatError, type ParseResult } from './parse/config.js'
export { parseSize, SIZE_UNITS, type SizeResult } from './size.js'
export { DEFAULTS } from './defaults.js'
export { CAPABILITIES, CAP_LAST_CAP, canonicalCapability, capabilityName, capabilityNumber } from './tables/capabilities.js'
export { SYSCALLS_X86_64, SYSCALLS_AARCH64 } from './tables/syscalls.js'
export { ERRNO } from './tables/errno.js'
export {
  DEFAULT_DENIED_SYSCALLS,
  ARGUMENT_CHECKED_SYSCALLS,
  OPT_IN_SYSCALLS,
  WATCHED_SYSCALLS,
  LAUNCHER_SYSCALLS,
} from './seccomp/syscall-sets.js'
export { resolveIdentity, dynamicId, DYNAMIC_ID_BASE, DYNAMIC_ID_COUNT, type Identity } from './identity.js'
export {
  BPF,
  BPF_MAX_INSTRUCTIONS,
  SECCOMP_RET,
  SECCOMP_DATA,
  ProgramBuilder,
  encodeProgram,
  decodeProgram,
  runFilter,
  describeReturn,
  type Instruction,
  type SeccompData,
} from './seccomp/bpf.js'
export { compileSeccomp, AUDIT_ARCH, X32_SYSCALL_BIT, type Arch, type CompiledSeccomp, type NotifyAction } from './seccomp/compile.js'
export { PolicyCompileError, type CompileErrorCode } from './errors.js'
export {
  compileLandlock,
  landlockFsRights,
  fileAccessRights,
  hostFilesystem,
  LANDLOCK_ACCESS_FS,
  LANDLOCK_ACCESS_NET,
  LANDLOCK_SCOPE,
  LANDLOCK_RESTRICT_SELF,
  LANDLOCK_MAX_ABI,
  LANDLOCK_FILE_RIGHTS,
  LANDLOCK_MAX_RULES,
  type FilesystemView,
  type CompiledLandlock,
} from './landlock.js'
export {
  compileLaunch,
  APP_MOUNT_POINT,
  SANDBOX_PATH,
  type CompileInput,
  type CompileResult,
  type HostFacts,
  CONTROL_MOUNT_POINT,
} from './compile.js'
export * from './export/index.js'
export * from './score.js'
