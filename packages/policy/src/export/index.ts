// Profile exports: the same policy written for other sandboxes and service
// managers. Each format lives in its own module, whose header lists what it
// cannot express. At export time every such loss becomes a warning that
// names the rule, so nothing is dropped silently.

import type { Profile } from '../profile.js'
import { exportAppArmor } from './apparmor.js'
import { exportOci } from './oci.js'
import { exportSbpl } from './sbpl.js'
import { exportSeccomp } from './seccomp.js'
import { exportSystemd } from './systemd.js'
import type { ExportFormat, ExportOptions, ExportResult, Exporter, FormatInfo } from './types.js'
import { exportWindows } from './windows.js'

export type { ExportFormat, ExportOptions, ExportResult, FormatInfo } from './types.js'
export { appArmorProfileName } from './apparmor.js'
export { buildOciConfig, type OciConfig } from './oci.js'
export { buildSeccompProfile, type SeccompProfile, type SeccompRule } from './seccomp.js'
export { buildWindowsPlan, type WindowsPlan } from './windows.js'

export const EXPORT_FORMATS: readonly FormatInfo[] = [
  {
    name: 'apparmor',
    description: 'AppArmor 3 profile for apparmor_parser: capabilities, file rules, network families',
    cannotExpress: [
      'network ports, destinations and localhost-only access',
      'resource limits', 'environment', 'user and group', 'syscall rules', 'writable path sizes',
    ],
  },
  {
    name: 'seccomp',
    description: 'OCI/Docker seccomp JSON with the default deny set and the profile syscall rules',
    cannotExpress: [
      'everything but syscalls: files, network, capabilities, limits, identity',
      'reports of watched syscalls (execve, connect, bind)',
      'killing i386 and arm compat calls and ENOSYS for x32 (the rules apply there instead)',
    ],
  },
  {
    name: 'systemd',
    description: 'systemd service drop-in ([Service] section) with sandboxing, filters and limits',
    cannotExpress: [
      'connect() port limits', 'pre-bound listen sockets (need a .socket unit)',
      'writable path sizes', 'file_access as an allow-list', 'the TIOCSTI/TIOCLINUX ioctl denial',
      'netlink limited to NETLINK_ROUTE',
    ],
  },
  {
    name: 'oci',
    description: 'OCI runtime-spec config.json parts: process, mounts, namespaces, resources, seccomp',
    cannotExpress: ['file_access (Landlock)', 'network ports, destinations and the veth link', 'loopback down', 'environment pass-through'],
  },
  {
    name: 'sbpl',
    description: 'macOS sandbox profile (SBPL) for sandbox-exec',
    cannotExpress: [
      'capabilities', 'user and group', 'syscall rules', 'resource limits', 'outbound CIDRs',
      'network namespaces', 'environment', 'permissive and disabled modes',
    ],
  },
  {
    name: 'windows',
    description: 'JSON plan for a Windows restricted token, job object, folder ACLs and firewall rules',
    cannotExpress: [
      'capabilities without a Windows privilege', 'syscall rules', 'paths with no Windows counterpart',
      'AF_UNIX socket denial', 'network namespaces', 'file descriptor limits', 'permissive and disabled modes',
    ],
  },
]

const EXPORTERS: Record<ExportFormat, Exporter> = {
  apparmor: exportAppArmor,
  seccomp: exportSeccomp,
  systemd: exportSystemd,
  oci: exportOci,
  sbpl: exportSbpl,
  windows: exportWindows,
}

/** Writes a profile in one of the export formats; throws on an unknown format name. */
export function exportProfile(profile: Profile, format: ExportFormat, options: ExportOptions = {}): ExportResult {
  if (!Object.hasOwn(EXPORTERS, format)) {
    const names = EXPORT_FORMATS.map((info) => info.name).join(', ')
    throw new Error(`unknown export format ${JSON.stringify(format)}: use one of ${names}`)
  }
  if (options.command && (options.command.length === 0 || !options.command[0]?.startsWith('/'))) {
    throw new Error(`invalid command ${JSON.stringify(options.command)}: the first entry must be an absolute path`)
  }
  const identity = options.identity
  if (identity && ![identity.uid, identity.gid].every((id) => Number.isInteger(id) && id >= 0 && id <= 0xffffffff)) {
    throw new Error(`invalid identity ${JSON.stringify(identity)}: uid and gid must be integers from 0 to 4294967295`)
  }
  return EXPORTERS[format](profile, options)
}
