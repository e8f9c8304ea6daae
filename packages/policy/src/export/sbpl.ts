// macOS sandbox export: a Sandbox Profile Language (SBPL) file for
// `sandbox-exec -f FILE COMMAND`. Rules are Scheme s-expressions; a later
// matching rule overrides an earlier one, so the denials come last.
//
// Cannot express (each becomes a warning when the profile uses it):
// - capabilities, user and group: macOS has no Linux capabilities and
//   sandbox-exec does not change the user;
// - syscalls: SBPL has no portable syscall rules (Linux names differ);
// - resource_limits and writable path sizes: use launchd or ulimit;
// - network.outbound other than localhost or everywhere: SBPL matches a
//   remote host only as `*` or `localhost`;
// - network.mode: macOS has no network namespaces, so `none` becomes no
//   network rules and `veth` behaves like `host`;
// - environment: sandbox-exec passes the caller's environment unchanged;
// - enforce_mode permissive or disabled: the export always denies.

import type { Profile } from '../profile.js'
import { boundPorts, hasAnyDestination, isBeneath, serviceNameOf, type ExportOptions, type ExportResult } from './types.js'

// Read-only system locations a dynamically linked program needs on macOS.
const SYSTEM_READ_PATHS = [
  '/System', '/usr/lib', '/usr/libexec', '/usr/share', '/usr/bin', '/bin', '/sbin',
  '/Library/Apple', '/Library/Preferences', '/private/etc', '/private/var/db/timezone',
  '/dev',
]

// The Mach services libSystem looks up at start and for user and host
// lookups; everything else stays denied.
const MACH_SERVICES = [
  'com.apple.system.logger',
  'com.apple.system.notification_center',
  'com.apple.system.opendirectoryd.libinfo',
]

/** Quotes an SBPL string literal. */
export function sbplString(value: string): string {
  return '"' + value.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"'
}

/**
 * Maps a Linux path to the path macOS resolves it to: /tmp, /var and /etc
 * are symlinks into /private, and the sandbox checks the resolved path.
 */
export function macPath(path: string): string {
  for (const link of ['/tmp', '/var', '/etc']) {
    if (isBeneath(path, link)) return '/private' + path
  }
  return path
}

const subpath = (path: string): string => `(subpath ${sbplString(macPath(path))})`

export function exportSbpl(profile: Profile, options: ExportOptions): ExportResult {
  const service = serviceNameOf(profile, options)
  const warnings: string[] = []
  const lines = [
    `;; macOS sandbox profile for the Blackhole service "${service}" (profile "${profile.name}").`,
    ';; Run with: sandbox-exec -f FILE COMMAND',
    '(version 1)',
    '(deny default)',
    '',
    ';; processes',
  ]

  const command = options.command?.[0]
  if (command) lines.push(`(allow process-exec (literal ${sbplString(macPath(command))}))`)
  else lines.push(`(allow process-exec ${['/bin', '/usr/bin'].map(subpath).join(' ')})`)
  lines.push('(allow process-fork)')
  lines.push('(allow signal (target self))')
  lines.push('(allow process-info* (target self))')
  lines.push('(allow sysctl-read)')
  lines.push(`(allow mach-lookup ${MACH_SERVICES.map((name) => `(global-name ${sbplString(name)})`).join(' ')})`)

  lines.push('', ';; files')
  lines.push('(allow file-read-metadata)')
  lines.push(`(allow file-read* (literal "/") ${SYSTEM_READ_PATHS.map(subpath).join(' ')})`)
  if (command) lines.push(`(allow file-read* file-map-executable (literal ${sbplString(macPath(command))}))`)
  if (!profile.filesystem.readOnlyRoot) {
    warnings.push('filesystem.read_only_root false: the macOS export keeps the root read-only outside writable paths')
  }
  const writable = [...profile.filesystem.writablePaths.map((entry) => entry.path), ...profile.filesystem.dataPaths]
  for (const path of writable) lines.push(`(allow file-read* file-write* ${subpath(path)})`)
  for (const rule of profile.filesystem.fileAccess) {
    const operations: string[] = []
    if (rule.mode.includes('r')) operations.push('file-read*')
    if (rule.mode.includes('w')) operations.push('file-write*')
    if (rule.mode.includes('x')) operations.push('process-exec', 'file-map-executable')
    lines.push(`(allow ${operations.join(' ')} ${subpath(rule.path)})`)
  }

  lines.push(...networkRules(profile, warnings))

  if (profile.filesystem.deniedPaths.length > 0) {
    lines.push('', ';; denied paths, last so they override the allows above')
    for (const path of profile.filesystem.deniedPaths) lines.push(`(deny file-read* file-write* process-exec ${subpath(path)})`)
  }

  warnings.push(...unsupported(profile))
  return {
    text: lines.join('\n') + '\n',
    warnings,
    mediaType: 'text/plain',
    fileName: `${service}.sb`,
  }
}

function networkRules(profile: Profile, warnings: string[]): string[] {
  const net = profile.network
  const lines = ['', ';; network']
  const inet = net.mode !== 'none' || net.allowLocalhost
  const ports = boundPorts(profile)
  if (inet) {
    // Without a network the service may only serve itself over loopback.
    const bindHost = net.mode === 'none' ? 'localhost' : '*'
    for (const port of ports) {
      lines.push(`(allow network-bind network-inbound (local tcp "${bindHost}:${port}"))`)
      lines.push(`(allow network-outbound (remote tcp "localhost:${port}"))`)
    }
    if (net.mode !== 'none') {
      if (hasAnyDestination(net.outbound)) {
        lines.push('(allow network-outbound (remote ip "*:*"))')
      } else if (net.outbound.length > 0) {
        warnings.push(`network.outbound [${net.outbound.join(', ')}]: SBPL matches no addresses; these destinations stay blocked`)
      }
    }
    if (net.allowLocalhost && ports.length === 0) lines.push('(allow network-outbound (remote ip "localhost:*"))')
  }
  if (net.allowUnixSockets) {
    lines.push('(allow network-outbound (remote unix-socket))')
    lines.push('(allow network-bind network-inbound (local unix-socket))')
  }
  if (net.mode === 'veth') warnings.push('network.mode veth: macOS has no network namespaces; the export filters sockets only')
  return lines
}

function unsupported(profile: Profile): string[] {
  const warnings: string[] = []
  if (profile.enforceMode !== 'enforce') {
    warnings.push(`enforce_mode: ${profile.enforceMode} has no SBPL form; the profile denies what it does not allow`)
  }
  for (const cap of profile.capabilities) warnings.push(`capabilities ${cap}: macOS has no Linux capabilities`)
  warnings.push(`user ${profile.user ?? '(dynamic)'}: sandbox-exec runs the command as the calling user`)
  if (profile.syscalls.denied.length > 0 || profile.syscalls.allowed.length > 0) {
    const names = [...profile.syscalls.denied, ...profile.syscalls.allowed].map((rule) => rule.name)
    warnings.push(`syscalls [${names.join(', ')}]: SBPL has no portable syscall rules`)
  }
  const limit = profile.resourceLimits
  warnings.push(
    `resource_limits (max_memory ${limit.maxMemory ?? 'none'}, max_processes ${limit.maxProcesses}, ` +
      `max_file_descriptors ${limit.maxFileDescriptors}): SBPL sets no limits; use launchd or ulimit`,
  )
  const env = profile.environment
  if (env.allow.length > 0 || Object.keys(env.set).length > 0) {
    warnings.push('environment: sandbox-exec passes the environment unchanged')
  }
  return warnings
}
