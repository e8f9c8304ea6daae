// Host-side preparation of one sandboxed launch: everything between a
// service definition and the native spawn. The supervisor and
// `blackhole run` share it.

import { accessSync, chmodSync, chownSync, closeSync, constants, mkdirSync, openSync, readFileSync, statSync } from 'node:fs'
import { delimiter, dirname, isAbsolute, join } from 'node:path'
import {
  capabilityName,
  compileLaunch,
  resolveIdentity,
  type Config,
  type LaunchSpec,
  type NotifyAction,
  type Profile,
  type ServiceDefinition,
} from '@blackhole/policy'
import { hostFacts, LaunchError, spawnSandbox, type SandboxChild } from '@blackhole/native'
import { ServiceCgroup, type CgroupLayout } from './cgroups.js'
import { ProfileNotFoundError } from './errors.js'

export { LaunchError }

/** Fields every launch error carries, whether the native launcher or the preparation raised it. */
export interface LaunchFailure {
  step: string
  errno: number
  code: string
  detail: string
  message: string
}

/** Reads step, errno, code and detail from a launch error of either origin. */
export function describeLaunchFailure(error: unknown, fallbackStep: string): LaunchFailure {
  const err = error as Partial<LaunchFailure> & { message?: string }
  return {
    step: typeof err.step === 'string' ? err.step : fallbackStep,
    errno: typeof err.errno === 'number' ? Math.abs(err.errno) : 0,
    code: typeof err.code === 'string' ? err.code : 'EUNKNOWN',
    detail: typeof err.detail === 'string' ? err.detail : '',
    message: typeof err.message === 'string' ? err.message : String(error),
  }
}

// Paths below these get a fresh tmpfs inside every sandbox, so the launcher
// creates mount points there itself. Elsewhere the read-only host root must
// already contain the mount point.
const SANDBOX_TMPFS_ROOTS = ['/tmp', '/var/tmp', '/run', '/var/run']

const FALLBACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

const AUDIT_ARCH_BY_NODE_ARCH: Record<string, 'x86_64' | 'aarch64'> = { x64: 'x86_64', arm64: 'aarch64' }

/**
 * Resolves a command to an absolute executable path, searching PATH for a
 * bare name as execvp would. Throws a LaunchError naming the command.
 */
export function resolveCommand(command: string, searchPath = process.env.PATH ?? FALLBACK_PATH): string {
  if (isAbsolute(command)) {
    checkExecutable(command, command)
    return command
  }
  if (command.includes('/')) {
    throw new LaunchError(
      'resolve command', 22, 'EINVAL', `command "${command}" is a relative path`, command,
      'Use an absolute path or a bare name looked up in PATH',
    )
  }
  for (const dir of searchPath.split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue
    const candidate = join(dir, command)
    if (isExecutableFile(candidate)) return candidate
  }
  throw new LaunchError(
    'resolve command', 2, 'ENOENT', `command "${command}" not found in PATH (${searchPath})`, command,
    'Install it or give its absolute path',
  )
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return statSync(path).isFile()
  } catch {
    return false
  }
}

function checkExecutable(path: string, command: string): void {
  if (isExecutableFile(path)) return
  throw new LaunchError(
    'resolve command', 2, 'ENOENT', `command "${command}" is not an executable file`, path,
    'Check the path and its execute permission',
  )
}

/** Host folder for a persistent path: `<dataDir>/volumes/<service>/<path with / as _>`. */
export function volumeDir(dataDir: string, service: string, path: string): string {
  return join(dataDir, 'volumes', service, path.replaceAll('/', '_'))
}

function isUnderSandboxTmpfs(path: string): boolean {
  return SANDBOX_TMPFS_ROOTS.some((root) => path === root || path.startsWith(`${root}/`))
}

/**
 * Creates the mount point of each writable path that lives on the read-only
 * host root (root-owned, 0755; it stays empty on the host because the
 * sandbox mounts over it).
 */
export function createMountPoints(paths: string[]): void {
  for (const path of paths) {
    if (isUnderSandboxTmpfs(path)) continue
    try {
      mkdirSync(path, { recursive: true, mode: 0o755 })
      if (!statSync(path).isDirectory()) throw Object.assign(new Error(`${path} is not a folder`), { code: 'ENOTDIR' })
    } catch (error) {
      const err = error as NodeJS.ErrnoException
      const code = err.code ?? 'EIO'
      throw new LaunchError(
        'mount point', errnoNumber(code), code, `cannot create the mount point on the host: ${err.message}`, path,
        'A writable path must be a folder or a path that can be created',
      )
    }
  }
}

/** Creates the host folders of persistent paths, owned by the service, mode 0700. */
export function createVolumes(
  dataDir: string, service: string, paths: string[], uid: number, gid: number,
): Record<string, string> {
  const sources: Record<string, string> = {}
  for (const path of paths) {
    const dir = volumeDir(dataDir, service, path)
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 })
      chownSync(dir, uid, gid)
      chmodSync(dir, 0o700)
    } catch (error) {
      const err = error as NodeJS.ErrnoException
      const code = err.code ?? 'EIO'
      throw new LaunchError(
        'volume', errnoNumber(code), code, `cannot prepare the folder for persistent path ${path}: ${err.message}`, dir,
      )
    }
    sources[path] = dir
  }
  return sources
}

const ERRNO_NUMBERS: Record<string, number> = {
  EPERM: 1, ENOENT: 2, EIO: 5, EACCES: 13, EEXIST: 17, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ENOSPC: 28, EROFS: 30,
}

function errnoNumber(code: string): number {
  return ERRNO_NUMBERS[code] ?? 0
}

/** Converts the hex capability bounding set from hostFacts() to capability names. */
export function boundingCapabilities(hexSet: string): string[] {
  const bits = BigInt(`0x${hexSet.replace(/^0x/i, '') || '0'}`)
  const names: string[] = []
  for (let cap = 0; cap < 64; cap++) {
    if ((bits >> BigInt(cap)) & 1n) {
      const name = capabilityName(cap)
      if (name !== null) names.push(name)
    }
  }
  return names
}

export interface PrepareOptions {
  name: string
  service: ServiceDefinition
  config: Config
  dataDir: string
  /** Descriptors that become the child's 0, 1 and 2; -1 opens /dev/null. */
  stdio: [number, number, number]
  /** Parent cgroup relative to each hierarchy. */
  cgroupParent: string
  /** Leaf cgroup name; defaults to the service name. */
  cgroupName?: string
  cgroupLayout?: CgroupLayout
  /**
   * Runs once the identity is known and the cgroup exists, before the spec
   * is compiled, to bind listen sockets and the control socket for that
   * uid and gid. A throw removes the cgroup; what the hook created before
   * throwing is the hook's to clean up.
   */
  attach?: (identity: { uid: number; gid: number }) => Promise<LaunchAttachments>
}

/** Descriptors and folders the supervisor prepares for one launch. */
export interface LaunchAttachments {
  /** Already bound listening sockets, passed as descriptors 3, 4, ... */
  listenFds: { fd: number; name: string }[]
  /** Host folder of the control socket, bound read-only at /run/blackhole-control. */
  controlDir?: string
}

export interface PreparedLaunch {
  spec: LaunchSpec
  notifyActions: Record<number, NotifyAction>
  warnings: string[]
  profile: Profile
  identity: { uid: number; gid: number; user: string; group: string; dynamic: boolean }
  cgroup: ServiceCgroup
  file: string
}

/** Returns the profile a service names, or throws ProfileNotFoundError. */
export function profileOf(config: Config, name: string): Profile {
  const profile = config.profiles[name]
  if (profile === undefined) throw new ProfileNotFoundError(name, Object.keys(config.profiles))
  return profile
}

/**
 * Runs every host-side step before the spawn, in order: profile, command,
 * identity, mount points, volumes, capabilities, cgroup, compilation. On a
 * failure after the cgroup exists, the cgroup is removed before the error
 * propagates.
 */
export async function prepareLaunch(options: PrepareOptions): Promise<PreparedLaunch> {
  const { name, service, config, dataDir } = options
  const profile = profileOf(config, service.profile)
  const file = resolveCommand(service.command)
  const identity = resolveIdentity(
    profile, name, readFileSync('/etc/passwd', 'utf8'), readFileSync('/etc/group', 'utf8'),
  )

  const persistent = [...new Set([...service.persistentPaths, ...profile.filesystem.dataPaths])]
  createMountPoints([...profile.filesystem.writablePaths.map((entry) => entry.path), ...persistent])
  const persistentSources = createVolumes(dataDir, name, persistent, identity.uid, identity.gid)

  const facts = hostFacts()
  const arch = AUDIT_ARCH_BY_NODE_ARCH[process.arch]
  if (arch === undefined) {
    throw new LaunchError('host', 22, 'EINVAL', 'unsupported CPU architecture; use x86_64 or aarch64', process.arch)
  }

  const cgroup = new ServiceCgroup(options.cgroupName ?? name, { parent: options.cgroupParent, layout: options.cgroupLayout })
  try {
    cgroup.create()
    cgroup.setLimits({
      memoryBytes: profile.resourceLimits.maxMemory,
      pids: profile.resourceLimits.maxProcesses,
      cpus: profile.resourceLimits.maxCpu,
    })
  } catch (error) {
    await cgroup.remove().catch(() => undefined)
    const message = error instanceof Error ? error.message : String(error)
    throw new LaunchError('cgroup', 5, 'EIO', message, cgroup.name)
  }

  let attachments: LaunchAttachments = { listenFds: [] }
  try {
    if (options.attach !== undefined) attachments = await options.attach({ uid: identity.uid, gid: identity.gid })
  } catch (error) {
    await cgroup.remove().catch(() => undefined)
    throw error
  }

  try {
    const compiled = compileLaunch({
      profile,
      service,
      name,
      argv: [file, ...service.args],
      identity,
      host: { arch, landlockAbi: facts.landlockAbi, boundingCaps: boundingCapabilities(facts.boundingSet), cgroupProcs: cgroup.procsFiles() },
      stdio: options.stdio,
      listenFds: attachments.listenFds,
      persistentSources,
      appDir: service.workingDirectory,
      ...(attachments.controlDir === undefined ? {} : { controlDir: attachments.controlDir }),
      env: process.env as Record<string, string>,
    })
    return { ...compiled, profile, identity, cgroup, file }
  } catch (error) {
    await cgroup.remove().catch(() => undefined)
    const message = error instanceof Error ? error.message : String(error)
    throw new LaunchError('compile', 22, 'EINVAL', message, service.profile)
  }
}

/** Opens `<dataDir>/logs/<service>.log` for appending (0640) and returns its descriptor. */
export function openServiceLog(dataDir: string, name: string): number {
  const path = join(dataDir, 'logs', `${name}.log`)
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o750 })
    return openSync(path, 'a', 0o640)
  } catch (error) {
    const err = error as NodeJS.ErrnoException
    const code = err.code ?? 'EIO'
    throw new LaunchError('log file', errnoNumber(code), code, `cannot open the log file: ${err.message}`, path)
  }
}

/** Spawns the compiled spec; the native LaunchError propagates unchanged. */
export function spawnPrepared(prepared: PreparedLaunch, beforeRelease?: (pid: number) => void): SandboxChild {
  return spawnSandbox(prepared.spec, beforeRelease === undefined ? {} : { beforeRelease })
}

export function closeQuietly(fd: number | null): void {
  if (fd === null || fd < 0) return
  try {
    closeSync(fd)
  } catch {
    // Already closed: nothing left to release.
  }
}

/** Reads the start time of a process (field 22 of /proc/PID/stat, in clock ticks since boot). */
export function processStartTime(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name in field 2 may contain spaces and parentheses, so count from its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[19])
  } catch {
    return null
  }
}
