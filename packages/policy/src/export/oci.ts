// OCI export: the parts of a runtime-spec 1.1 config.json that carry the
// profile (process, root, hostname, mounts, linux). Merge them into a bundle's
// config.json; `root.path` and, without a command, `process.args` still need
// the bundle's values.
//
// Cannot express (each becomes a warning when the profile uses it):
// - filesystem.file_access: the runtime-spec has no Landlock rules;
// - network.allowed_ports, network.outbound and a veth link: config.json
//   creates the network namespace, but addresses, routes and firewall rules
//   come from a CNI plugin or a hook;
// - network.allow_localhost false: runtimes bring loopback up in every new
//   network namespace;
// - environment.allow: a container does not inherit the supervisor's
//   environment, so pass-through names need explicit values.

import type { Profile } from '../profile.js'
import { buildSeccompProfile, type SeccompProfile } from './seccomp.js'
import { boundPorts, hasAnyDestination, serviceNameOf, type ExportOptions, type ExportResult } from './types.js'

export interface OciMount {
  destination: string
  type: string
  source: string
  options: string[]
}

export interface OciRlimit {
  type: string
  hard: number
  soft: number
}

export interface OciConfig {
  ociVersion: string
  process: {
    terminal: boolean
    user: { uid: number; gid: number; umask: number; additionalGids: number[] }
    args?: string[]
    env: string[]
    cwd: string
    capabilities: { bounding: string[]; effective: string[]; permitted: string[]; inheritable: string[]; ambient: string[] }
    rlimits: OciRlimit[]
    noNewPrivileges: boolean
  }
  root: { path: string; readonly: boolean }
  hostname: string
  mounts: OciMount[]
  linux: {
    namespaces: { type: string }[]
    resources: {
      memory?: { limit: number }
      pids: { limit: number }
      cpu?: { quota: number; period: number }
    }
    seccomp?: SeccompProfile
    maskedPaths: string[]
    readonlyPaths: string[]
  }
}

// The paths Docker masks and makes read-only by default (its `docker inspect`
// MaskedPaths and ReadonlyPaths), listed so a bare config.json gets them too.
const DEFAULT_MASKED = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi',
  '/sys/firmware', '/sys/devices/virtual/powercap',
]
const DEFAULT_READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']

// cgroup CPU bandwidth period in microseconds (the kernel default).
const CPU_PERIOD = 100_000
// Fallback identity when none is given: the overflow user, so a missing
// identity never means root.
const NOBODY = 65534

export function buildOciConfig(profile: Profile, options: ExportOptions): { config: OciConfig; warnings: string[] } {
  const warnings: string[] = []
  const service = serviceNameOf(profile, options)
  const { uid, gid } = ociIdentity(profile, options, warnings)
  const caps = [...profile.capabilities]

  const process: OciConfig['process'] = {
    terminal: false,
    user: { uid, gid, umask: 0o077, additionalGids: [] },
    env: Object.entries(profile.environment.set).map(([name, value]) => `${name}=${value}`),
    cwd: '/',
    capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: caps, ambient: caps },
    rlimits: ociRlimits(profile),
    noNewPrivileges: true,
  }
  if (options.command && options.command.length > 0) process.args = [...options.command]
  else warnings.push('command: none given, so process.args is missing; add the program and its arguments')

  const linux: OciConfig['linux'] = {
    namespaces: ociNamespaces(profile),
    resources: { pids: { limit: profile.resourceLimits.maxProcesses } },
    maskedPaths: [...DEFAULT_MASKED, ...profile.filesystem.deniedPaths],
    readonlyPaths: [...DEFAULT_READONLY],
  }
  const { maxMemory, maxCpu } = profile.resourceLimits
  if (maxMemory !== null) linux.resources.memory = { limit: maxMemory }
  if (maxCpu !== null) linux.resources.cpu = { quota: Math.max(1000, Math.round(maxCpu * CPU_PERIOD)), period: CPU_PERIOD }
  const seccomp = buildSeccompProfile(profile)
  warnings.push(...seccomp.warnings)
  if (profile.enforceMode !== 'disabled') linux.seccomp = seccomp.seccomp

  const config: OciConfig = {
    // Every field used here exists since 1.1.0 (process.user.umask is the
    // newest), and crun 1.8 rejects a config that claims 1.2.0.
    ociVersion: '1.1.0',
    process,
    root: { path: 'rootfs', readonly: profile.filesystem.readOnlyRoot },
    hostname: service,
    mounts: ociMounts(profile, options, uid, gid),
    linux,
  }
  warnings.push(...unsupported(profile))
  return { config, warnings }
}

function ociIdentity(profile: Profile, options: ExportOptions, warnings: string[]): { uid: number; gid: number } {
  if (options.identity) return options.identity
  if (profile.user === 'root') return { uid: 0, gid: 0 }
  warnings.push(
    `user ${profile.user ?? '(dynamic)'}: uid and gid are resolved at run time; ` +
      `the config uses ${NOBODY}:${NOBODY} until an identity option gives the numbers`,
  )
  return { uid: NOBODY, gid: NOBODY }
}

function ociRlimits(profile: Profile): OciRlimit[] {
  const limit = profile.resourceLimits
  const rlimits: OciRlimit[] = [
    { type: 'RLIMIT_NOFILE', hard: limit.maxFileDescriptors, soft: limit.maxFileDescriptors },
    { type: 'RLIMIT_NPROC', hard: limit.maxProcesses, soft: limit.maxProcesses },
  ]
  if (limit.maxMemory !== null) rlimits.push({ type: 'RLIMIT_AS', hard: limit.maxMemory, soft: limit.maxMemory })
  rlimits.push({ type: 'RLIMIT_CORE', hard: 0, soft: 0 })
  return rlimits
}

function ociNamespaces(profile: Profile): { type: string }[] {
  const types = ['pid', 'mount', 'ipc', 'uts', 'cgroup']
  if (profile.network.mode !== 'host') types.splice(2, 0, 'network')
  return types.map((type) => ({ type }))
}

function ociMounts(profile: Profile, options: ExportOptions, uid: number, gid: number): OciMount[] {
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  ]
  const service = serviceNameOf(profile, options)
  const bind = (path: string): OciMount => ({
    destination: path,
    type: 'bind',
    source: options.persistentSources?.[path] ?? `/var/lib/blackhole/data/${service}${path}`,
    options: ['rbind', 'rw', 'nosuid', 'nodev'],
  })
  for (const writable of profile.filesystem.writablePaths) {
    if (options.persistentPaths?.includes(writable.path)) {
      mounts.push(bind(writable.path))
      continue
    }
    const size = writable.sizeBytes ?? profile.resourceLimits.maxTmpfs
    const mountOptions = ['nosuid', 'nodev', 'mode=0700', `uid=${uid}`, `gid=${gid}`]
    if (size !== null) mountOptions.push(`size=${size}`)
    mounts.push({ destination: writable.path, type: 'tmpfs', source: 'tmpfs', options: mountOptions })
  }
  for (const data of profile.filesystem.dataPaths) mounts.push(bind(data))
  return mounts
}

function unsupported(profile: Profile): string[] {
  const warnings: string[] = []
  const net = profile.network
  for (const rule of profile.filesystem.fileAccess) {
    warnings.push(`filesystem.file_access ${rule.path} (${rule.mode}): config.json has no Landlock rules`)
  }
  if (net.mode === 'veth') {
    warnings.push('network.mode veth: config.json creates an empty network namespace; attach the link with a CNI plugin')
  }
  if (net.mode !== 'host') {
    const ports = boundPorts(profile)
    if (ports.length > 0) warnings.push(`network.allowed_ports [${ports.join(', ')}]: config.json cannot limit ports`)
    if (net.mode === 'veth' && net.outbound.length > 0 && !hasAnyDestination(net.outbound)) {
      warnings.push(`network.outbound [${net.outbound.join(', ')}]: config.json cannot limit destinations`)
    }
    if (!net.allowLocalhost) warnings.push('network.allow_localhost false: runtimes bring loopback up in the new namespace')
  }
  if (profile.environment.allow.length > 0) {
    warnings.push(`environment.allow [${profile.environment.allow.join(', ')}]: a container inherits no environment; set values in process.env`)
  }
  return warnings
}

export function exportOci(profile: Profile, options: ExportOptions): ExportResult {
  const { config, warnings } = buildOciConfig(profile, options)
  return {
    text: JSON.stringify(config, null, 2) + '\n',
    warnings,
    mediaType: 'application/json',
    fileName: `${serviceNameOf(profile, options)}.config.json`,
  }
}
