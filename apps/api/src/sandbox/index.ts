// The sandbox layer: service cgroups, the supervisor and `blackhole run`.

export { CONTROLLERS, detectLayout, listServiceCgroups, placeControllers, ServiceCgroup } from './cgroups.js'
export type { CgroupLayout, CgroupLimits, Controller, Placement, ServiceCgroupOptions } from './cgroups.js'
export { CgroupError, InvalidStateError, ProfileNotFoundError, SandboxError, ServiceNotFoundError } from './errors.js'
export { describeLaunchFailure, LaunchError, resolveCommand, volumeDir } from './launch.js'
export type { LaunchFailure } from './launch.js'
export { notifyEventToAudit, syscallName, WATCHED_SYSCALLS } from './notify.js'
export { exitStatus, runInSandbox } from './run.js'
export type { RunOptions } from './run.js'
export { profileSha256, Supervisor } from './supervisor.js'
export type { ExitInfo, SupervisorLogger, SupervisorOptions } from './supervisor.js'
export { readRunState, runStatePath } from './run-state.js'
export type { RunState } from './run-state.js'
