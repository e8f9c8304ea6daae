// Types and small helpers shared by the export formats.

import type { Profile } from '../profile.js'

export type ExportFormat = 'apparmor' | 'seccomp' | 'systemd' | 'oci' | 'sbpl' | 'windows'

export interface ExportOptions {
  /** Service name used for unit, profile and host names; defaults to the profile name. */
  serviceName?: string
  /** Program and arguments the sandbox runs; the first entry is an absolute path. */
  command?: string[]
  /** Numeric uid and gid of the service account, for formats that need numbers (OCI). */
  identity?: { uid: number; gid: number }
  /**
   * Host folder for each persistent path (data paths and the service's
   * persistent writable paths), keyed by the path as written in the profile.
   * OCI bind sources come from here; a path missing here gets
   * /var/lib/blackhole/data/SERVICE/PATH.
   */
  persistentSources?: Record<string, string>
  /** Writable paths the service keeps across restarts (its `persistent_paths`): binds instead of tmpfs. */
  persistentPaths?: string[]
}

export interface ExportResult {
  text: string
  /** One line per profile rule the format cannot express, naming the rule. */
  warnings: string[]
  mediaType: string
  fileName: string
}

export interface FormatInfo {
  name: ExportFormat
  description: string
  /** Profile settings the format has no way to express. */
  cannotExpress: string[]
}

export type Exporter = (profile: Profile, options: ExportOptions) => ExportResult

/** Returns the service name: the option when given, else the profile name. */
export function serviceNameOf(profile: Profile, options: ExportOptions): string {
  return options.serviceName ?? profile.name
}

/** Returns the account the service runs as; a null user means a dynamic `blackhole-<service>` user. */
export function accountOf(profile: Profile, options: ExportOptions): string {
  return profile.user ?? `blackhole-${serviceNameOf(profile, options)}`
}

/** Returns true when `path` is `base` or lies beneath it. */
export function isBeneath(path: string, base: string): boolean {
  if (base === '/') return true
  return path === base || path.startsWith(base + '/')
}

/** Returns the TCP ports the service binds: allowed ports plus TCP listen sockets, sorted. */
export function boundPorts(profile: Profile): number[] {
  const ports = new Set(profile.network.allowedPorts)
  for (const socket of profile.network.listen) {
    if (socket.kind === 'tcp') ports.add(socket.port)
  }
  return [...ports].sort((a, b) => a - b)
}

/** Returns true when a CIDR list lets the service reach every IPv4 or IPv6 address. */
export function hasAnyDestination(outbound: string[]): boolean {
  return outbound.some((cidr) => cidr.endsWith('/0'))
}
