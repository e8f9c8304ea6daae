// compileLaunch: a valid profile, a service and the host's facts become the
// LaunchSpec the native launcher carries out without further decisions.

import type { ServiceDefinition } from './config.js'
import { DEFAULTS } from './defaults.js'
import { PolicyCompileError } from './errors.js'
import type { Identity } from './identity.js'
import { compileLandlock, hostFilesystem, type FilesystemView } from './landlock.js'
import type { LaunchSpec, MountStep, Rlimit } from './launch-spec.js'
import { isSameOrUnder, resolveVarRun } from './parse/values.js'
import type { Profile } from './profile.js'
import { compileSeccomp, type Arch, type NotifyAction } from './seccomp/compile.js'
import { canonicalCapability, capabilityNumber } from './tables/capabilities.js'

export interface HostFacts {
  arch: Arch
  /** Landlock ABI version of the running kernel; 0 when Landlock is unavailable. */
  landlockAbi: number
  /** Capability names in the supervisor's own bounding set, which it can pass on. */
  boundingCaps: string[]
  /** cgroup.procs files the child's pid is written to. */
  cgroupProcs: string[]
}

export interface CompileInput {
  profile: Profile
  service: ServiceDefinition
  /** Service name: hostname and label. */
  name: string
  /** Program and arguments; argv[0] is the absolute path the supervisor resolved in PATH. */
  argv: string[]
  identity: Identity
  host: HostFacts
  stdio: [number, number, number]
  listenFds: { fd: number; name: string }[]
  /** Host folder bind-mounted at each persistent or data path, keyed by the path as written in the profile. */
  persistentSources: Record<string, string>
  /** Host folder with the service's files, bound read-only at /run/blackhole-app. */
  appDir?: string
  /** Host folder with the supervisor's control socket, bound read-only at /run/blackhole-control. */
  controlDir?: string
  /** The supervisor's environment, read only for the profile's allow-list. */
  env: Record<string, string>
  /** Host filesystem view for Landlock's denied-path listing; the real one by default. */
  filesystem?: FilesystemView
}

export interface CompileResult {
  spec: LaunchSpec
  notifyActions: Record<number, NotifyAction>
  warnings: string[]
}

/** Mount point of appDir inside the sandbox. */
export const APP_MOUNT_POINT = '/run/blackhole-app'
/** Mount point of controlDir inside the sandbox; BLACKHOLE_CONTROL_SOCKET names the socket in it. */
export const CONTROL_MOUNT_POINT = '/run/blackhole-control'
export const SANDBOX_PATH = '/usr/local/bin:/usr/bin:/bin'

const STACK_BYTES = 8 * 1024 ** 2
const SCRATCH_DIRS = ['/tmp', '/var/tmp', '/run']
const PROC_MASKS = ['/proc/sysrq-trigger', '/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug', '/proc/acpi', '/proc/scsi']
const SYS_MASKS = ['/sys/fs/cgroup', '/sys/firmware', '/sys/kernel/security', '/sys/kernel/debug']

/** Compiles the launch spec; throws PolicyCompileError when the host cannot enforce the profile. */
export function compileLaunch(input: CompileInput): CompileResult {
  const { profile, identity, host } = input
  const warnings: string[] = []
  const file = input.argv[0]
  if (file === undefined || !file.startsWith('/')) {
    throw new PolicyCompileError('INVALID_INPUT', `argv[0] must be the absolute program path, got ${JSON.stringify(file ?? null)}`)
  }
  const seccomp = compileSeccomp(profile, host.arch)
  const landlock = compileLandlock(profile, host.landlockAbi, input.filesystem ?? hostFilesystem)
  warnings.push(...landlock.warnings)
  const writable = profile.filesystem.writablePaths.map((w) => resolveVarRun(w.path))

  const spec: LaunchSpec = {
    specVersion: 1,
    name: input.name,
    file,
    argv: [...input.argv],
    env: buildEnvironment(input, writable),
    cwd: sandboxCwd(input),
    uid: identity.uid,
    gid: identity.gid,
    groups: [],
    namespaces: { pid: true, mount: true, net: profile.network.mode !== 'host', ipc: true, uts: true, cgroup: true },
    hostname: input.name,
    capabilities: grantedCapabilities(profile, host.boundingCaps, warnings),
    noNewPrivs: true,
    mounts: buildMounts(input),
    rlimits: buildRlimits(profile),
    cgroupProcs: [...host.cgroupProcs],
    network: { mode: profile.network.mode, loopbackUp: profile.network.mode !== 'host' && profile.network.allowLocalhost },
    seccomp: { mode: seccomp.mode, filter: seccomp.filter, listener: seccomp.listener, flags: 0 },
    landlock: landlock.spec,
    listenFds: input.listenFds.map((l) => ({ ...l })),
    stdio: [...input.stdio],
  }
  return { spec, notifyActions: seccomp.notifyActions, warnings }
}

/** Profile capabilities the supervisor can grant, as numbers; each one it cannot grant adds a warning. */
function grantedCapabilities(profile: Profile, boundingCaps: string[], warnings: string[]): number[] {
  const grantable = new Set(boundingCaps.map((name) => canonicalCapability(name)).filter((n) => n !== null))
  const numbers: number[] = []
  for (const name of profile.capabilities) {
    const number = capabilityNumber(name)
    if (number === null) continue
    if (grantable.has(name)) numbers.push(number)
    else warnings.push(`capability ${name} dropped: the supervisor does not hold it in its bounding set, so the service starts without it`)
  }
  return numbers.sort((a, b) => a - b)
}

function buildRlimits(profile: Profile): Rlimit[] {
  const limits = profile.resourceLimits
  const both = (resource: Rlimit['resource'], value: number | null): Rlimit => ({ resource, soft: value, hard: value })
  // NOTE: RLIMIT_AS counts reserved address space, not memory in use, so
  // runtimes that reserve large regions up front (V8 with WebAssembly, the
  // JVM) may need a max_memory well above their working set. The memory
  // cgroup carries the real limit.
  return [
    both('AS', limits.maxMemory),
    both('DATA', limits.maxMemory),
    both('STACK', STACK_BYTES),
    both('CORE', 0),
    both('NOFILE', limits.maxFileDescriptors),
    both('NPROC', limits.maxProcesses),
  ]
}

function buildEnvironment(input: CompileInput, writable: string[]): string[] {
  const env = new Map<string, string>([
    ['PATH', SANDBOX_PATH],
    ['HOME', writable[0] ?? '/'],
  ])
  for (const name of input.profile.environment.allow) {
    const value = input.env[name]
    if (value !== undefined) env.set(name, value)
  }
  for (const [name, value] of Object.entries(input.profile.environment.set)) env.set(name, value)
  for (const [name, value] of Object.entries(input.service.environment)) env.set(name, value)
  if (input.controlDir !== undefined) env.set('BLACKHOLE_CONTROL_SOCKET', `${CONTROL_MOUNT_POINT}/control.sock`)
  return [...env].map(([name, value]) => `${name}=${value}`)
}

function sandboxCwd(input: CompileInput): string {
  const cwd = resolveVarRun(input.service.workingDirectory)
  const appDir = input.appDir
  if (appDir !== undefined && isSameOrUnder(cwd, appDir)) return APP_MOUNT_POINT + cwd.slice(appDir.length)
  return cwd
}

function persistentSource(input: CompileInput, path: string): string {
  const source = input.persistentSources[path] ?? input.persistentSources[resolveVarRun(path)]
  if (source === undefined || !source.startsWith('/')) {
    throw new PolicyCompileError('PERSISTENT_SOURCE', `persistent path ${path} of service ${input.name} has no absolute host folder in persistentSources`)
  }
  return source
}

/**
 * Builds the mount steps in launch order. Writable paths under /tmp,
 * /var/tmp or /run get their mount points on the private tmpfs there. A
 * writable path whose parent is on the read-only root must already exist on
 * the host, so the supervisor creates missing mount points before launch.
 */
function buildMounts(input: CompileInput): MountStep[] {
  const { profile, identity } = input
  const readOnlyRoot = profile.filesystem.readOnlyRoot
  const maxTmpfs = profile.resourceLimits.maxTmpfs ?? DEFAULTS.maxTmpfs
  const writable = profile.filesystem.writablePaths.map((w) => ({ ...w, target: resolveVarRun(w.path) }))
  const writableTargets = new Set(writable.map((w) => w.target))

  const mounts: MountStep[] = [
    { type: 'bind', source: '/', target: '/', readOnly: readOnlyRoot, recursive: true },
    { type: 'proc', target: '/proc' },
    { type: 'readonly', target: '/proc/sys' },
    ...PROC_MASKS.map((target): MountStep => ({ type: 'mask', target })),
    { type: 'dev', target: '/dev' },
    ...SYS_MASKS.map((target): MountStep => ({ type: 'mask', target })),
  ]
  // Private scratch directories hide the host's sockets and temporary files.
  // They start writable so the launcher can create mount points in them.
  for (const target of SCRATCH_DIRS) {
    if (writableTargets.has(target)) continue
    const mode = target === '/run' ? 0o755 : 0o1777
    mounts.push({ type: 'tmpfs', target, sizeBytes: maxTmpfs, mode, uid: 0, gid: 0, readOnly: false })
  }
  const writableMounts: MountStep[] = []
  for (const w of writable) {
    if (input.service.persistentPaths.includes(w.path)) {
      writableMounts.push({ type: 'bind', source: persistentSource(input, w.path), target: w.target, readOnly: false, recursive: false })
    } else {
      const sizeBytes = w.sizeBytes ?? maxTmpfs
      writableMounts.push({ type: 'tmpfs', target: w.target, sizeBytes, mode: 0o700, uid: identity.uid, gid: identity.gid, readOnly: false })
    }
  }
  for (const path of profile.filesystem.dataPaths) {
    writableMounts.push({ type: 'bind', source: persistentSource(input, path), target: resolveVarRun(path), readOnly: false, recursive: false })
  }
  // Parents before children, so a nested writable path is not hidden by its parent's mount.
  const depth = (step: MountStep) => step.target.split('/').length
  mounts.push(...writableMounts.sort((a, b) => depth(a) - depth(b)))
  if (input.appDir !== undefined) {
    mounts.push({ type: 'bind', source: input.appDir, target: APP_MOUNT_POINT, readOnly: true, recursive: true })
  }
  if (input.controlDir !== undefined) {
    mounts.push({ type: 'bind', source: input.controlDir, target: CONTROL_MOUNT_POINT, readOnly: true, recursive: false })
  }
  // With a writable root the scratch directories stay writable like the rest.
  if (!readOnlyRoot) return mounts
  const remounted = SCRATCH_DIRS.filter((target) => !writableTargets.has(target))
  for (const target of remounted) mounts.push({ type: 'readonly', target })
  // The launcher's `readonly` step re-binds the directory recursively and
  // makes every mount beneath it read-only too. A writable mount under a
  // remounted scratch directory therefore runs twice: the first creates its
  // mount point while the directory is writable, the second is the one the
  // service uses.
  const writableSteps = mounts.filter((m) => (m.type === 'tmpfs' || m.type === 'bind') && !m.readOnly && m.target !== '/')
  for (const step of writableSteps) {
    if (remounted.some((dir) => step.target.startsWith(`${dir}/`))) mounts.push({ ...step })
  }
  return mounts
}
