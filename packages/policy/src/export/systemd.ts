// systemd export: a drop-in with a [Service] section, for
// /etc/systemd/system/SERVICE.service.d/blackhole.conf. Checked with
// `systemd-analyze verify` of systemd 252; older releases may lack newer
// directives such as SocketBindAllow=.
//
// Cannot express (each becomes a warning when the profile uses it):
// - network.allowed_ports for connect(): SocketBindAllow= limits bind only;
// - network.listen: pre-bound listeners need a separate .socket unit;
// - filesystem.writable_paths sizes: the paths are host directories here,
//   not fresh tmpfs mounts of a fixed size;
// - filesystem.file_access as an allow-list: systemd marks the listed paths
//   read-only or writable but cannot hide the rest of the tree (Landlock can);
// - the ioctl TIOCSTI/TIOCLINUX denial of the default filter: SystemCallFilter=
//   does not look at arguments;
// - netlink limited to NETLINK_ROUTE: RestrictAddressFamilies= allows AF_NETLINK
//   with every protocol (most of the others need capabilities the service lacks).

import type { Profile } from '../profile.js'
import { accountOf, boundPorts, hasAnyDestination, isBeneath, serviceNameOf, type ExportOptions, type ExportResult } from './types.js'
import { resolveVarRun } from '../parse/values.js'
import { OPT_IN_SYSCALLS } from '../seccomp/syscall-sets.js'
import { deniedSyscalls } from './seccomp.js'

const DEFAULT_ERRNO = 'EPERM'

/**
 * Directives for folders that systemd creates and chowns to the service user,
 * keyed by the path prefix they stand for. A writable path under a prefix
 * becomes that directive, so a dynamic user can write there without a
 * pre-made host folder.
 */
const MANAGED_DIRECTORIES: [prefix: string, directive: string][] = [
  ['/var/lib', 'StateDirectory'],
  ['/var/cache', 'CacheDirectory'],
  ['/var/log', 'LogsDirectory'],
  ['/run', 'RuntimeDirectory'],
]

/** Quotes one word of a space-separated list; `%` doubles because systemd expands specifiers. */
export function systemdWord(value: string): string {
  const escaped = value.replace(/%/g, '%%')
  if (!/[\s"'\\;]/.test(escaped) && escaped !== '') return escaped
  return '"' + escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t') + '"'
}

/** Formats one `Environment=` assignment, quoted so spaces, quotes and `%` survive. */
export function systemdEnvironment(name: string, value: string): string {
  const escaped = `${name}=${value}`
    .replace(/%/g, '%%')
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n')
    .replace(/\t/g, '\\t')
  return `Environment="${escaped}"`
}

export function exportSystemd(profile: Profile, options: ExportOptions): ExportResult {
  const service = serviceNameOf(profile, options)
  const warnings: string[] = []
  const lines: string[] = [
    `# systemd drop-in for the Blackhole service "${service}" (profile "${profile.name}").`,
    `# Install as /etc/systemd/system/${service}.service.d/blackhole.conf, then systemctl daemon-reload.`,
    '',
    '[Service]',
  ]

  lines.push(...identity(profile, options))
  lines.push(...capabilities(profile))
  lines.push(...sandboxing(profile))
  lines.push(...filesystem(profile, warnings))
  lines.push(...network(profile, warnings))
  lines.push(...syscallFilter(profile, warnings))
  lines.push(...limits(profile))
  lines.push(...environment(profile))

  return {
    text: lines.join('\n') + '\n',
    warnings,
    mediaType: 'text/plain',
    fileName: `${service}.service.d/blackhole.conf`,
  }
}

function identity(profile: Profile, options: ExportOptions): string[] {
  const lines = ['', '# identity']
  // A null user is a dynamic user: systemd allocates a uid for the run.
  if (profile.user === null) lines.push('DynamicUser=yes')
  lines.push(`User=${systemdWord(accountOf(profile, options))}`)
  if (profile.group !== null) lines.push(`Group=${systemdWord(profile.group)}`)
  lines.push('UMask=0077')
  return lines
}

function capabilities(profile: Profile): string[] {
  const caps = profile.capabilities.join(' ')
  // An empty CapabilityBoundingSet= clears the set, which drops every capability.
  const lines = ['', '# capabilities', `CapabilityBoundingSet=${caps}`]
  if (caps) lines.push(`AmbientCapabilities=${caps}`)
  lines.push('NoNewPrivileges=yes')
  return lines
}

// Each directive below drops the capabilities named beside it. When the
// profile grants one of them, the directive stays off so the grant works.
const PROTECTIONS: [directive: string, conflicts: string[]][] = [
  ['PrivateDevices=yes', ['CAP_MKNOD', 'CAP_SYS_RAWIO']],
  ['ProtectKernelTunables=yes', []],
  ['ProtectKernelModules=yes', ['CAP_SYS_MODULE']],
  ['ProtectKernelLogs=yes', ['CAP_SYSLOG']],
  ['ProtectControlGroups=yes', []],
  ['ProtectHostname=yes', []],
  ['ProtectClock=yes', ['CAP_SYS_TIME', 'CAP_WAKE_ALARM']],
  ['RestrictNamespaces=yes', []],
  ['LockPersonality=yes', []],
  ['RestrictRealtime=yes', []],
  ['RestrictSUIDSGID=yes', []],
]

function sandboxing(profile: Profile): string[] {
  const lines = ['', '# kernel and process protections']
  const optedIn = new Set(profile.syscalls.allowed.map((rule) => rule.name))
  for (const [directive, conflicts] of PROTECTIONS) {
    if (directive === 'LockPersonality=yes' && optedIn.has('personality')) {
      lines.push('# LockPersonality=yes is off: the profile allows personality(2).')
      continue
    }
    const granted = conflicts.filter((cap) => profile.capabilities.includes(cap))
    if (granted.length === 0) lines.push(directive)
    else lines.push(`# ${directive} is off: it would drop ${granted.join(', ')}, which the profile grants.`)
  }
  lines.push('# MemoryDenyWriteExecute=yes is off: it breaks JIT compilers such as V8 and the JVM.')
  return lines
}

function filesystem(profile: Profile, warnings: string[]): string[] {
  const fs = profile.filesystem
  const lines = ['', '# filesystem']
  if (fs.readOnlyRoot) lines.push('ProtectSystem=strict')
  lines.push('PrivateTmp=yes')

  for (const writable of fs.writablePaths) {
    const size = writable.sizeBytes ?? profile.resourceLimits.maxTmpfs
    if (size !== null) {
      warnings.push(`filesystem.writable_paths ${writable.path}: systemd cannot cap its size at ${size} bytes`)
    }
    // PrivateTmp= already gives the service its own writable /tmp and /var/tmp.
    if (isBeneath(writable.path, '/tmp') || isBeneath(writable.path, '/var/tmp')) continue
    lines.push(writableDirective(writable.path))
  }
  for (const data of fs.dataPaths) lines.push(writableDirective(data))

  if (fs.fileAccess.length > 0) {
    warnings.push(
      'filesystem.file_access: systemd cannot limit access to only the listed paths; ' +
        'they become ReadOnlyPaths= or ReadWritePaths= and the rest of the tree stays readable',
    )
  }
  for (const rule of fs.fileAccess) {
    const directive = rule.mode.includes('w') ? 'ReadWritePaths' : 'ReadOnlyPaths'
    // The `-` prefix skips a path missing on the host instead of failing the start.
    lines.push(`${directive}=-${systemdWord(rule.path)}`)
    if (rule.mode.includes('x')) lines.push(`ExecPaths=-${systemdWord(rule.path)}`)
  }
  for (const denied of fs.deniedPaths) lines.push(`InaccessiblePaths=-${systemdWord(denied)}`)
  return lines
}

function writableDirective(written: string): string {
  const path = resolveVarRun(written)
  for (const [prefix, directive] of MANAGED_DIRECTORIES) {
    if (path.startsWith(prefix + '/')) return `${directive}=${systemdWord(path.slice(prefix.length + 1))}`
  }
  return `ReadWritePaths=-${systemdWord(path)}`
}

function network(profile: Profile, warnings: string[]): string[] {
  const net = profile.network
  const lines = ['', '# network']
  if (net.mode === 'none') {
    // A private network namespace holds only the loopback interface.
    lines.push('PrivateNetwork=yes')
    if (!net.allowLocalhost) lines.push('IPAddressDeny=any')
  } else if (net.mode === 'veth') {
    lines.push('IPAddressDeny=any')
    if (net.allowLocalhost) lines.push('IPAddressAllow=localhost')
    if (net.outbound.length > 0) lines.push(`IPAddressAllow=${net.outbound.join(' ')}`)
  } else if (!net.allowLocalhost) {
    lines.push('IPAddressDeny=localhost')
  }

  // AF_NETLINK stays for interface and address lookups (getifaddrs), which
  // Blackhole's filter allows through NETLINK_ROUTE.
  const families: string[] = []
  if (net.allowUnixSockets) families.push('AF_UNIX')
  if (net.mode !== 'none' || net.allowLocalhost) families.push('AF_INET', 'AF_INET6')
  families.push('AF_NETLINK')
  const rawSockets = profile.syscalls.allowed.some((rule) => rule.name === 'socket')
  if (rawSockets && net.mode !== 'none') families.push('AF_PACKET')
  lines.push(`RestrictAddressFamilies=${families.join(' ')}`)

  const ports = boundPorts(profile)
  for (const port of ports) lines.push(`SocketBindAllow=tcp:${port}`)
  lines.push('SocketBindDeny=any')

  if (net.allowedPorts.length > 0 && (net.mode !== 'none' || net.allowLocalhost)) {
    warnings.push(
      `network.allowed_ports [${net.allowedPorts.join(', ')}]: systemd limits bind() to these ports ` +
        'but cannot limit the ports connect() reaches',
    )
  }
  if (net.mode === 'veth' && hasAnyDestination(net.outbound)) {
    warnings.push('network.outbound: a /0 destination lets IPAddressAllow= accept every address')
  }
  for (const socket of net.listen) {
    const where = socket.kind === 'tcp' ? `${socket.host ?? '0.0.0.0'}:${socket.port}` : socket.path
    warnings.push(`network.listen ${socket.name} (${where}): write a ${socket.name}.socket unit with ListenStream=${where}`)
  }
  return lines
}

function syscallFilter(profile: Profile, warnings: string[]): string[] {
  const lines = ['', '# syscalls']
  if (profile.enforceMode === 'disabled') {
    warnings.push('enforce_mode: disabled, so no SystemCallFilter= is set')
    return lines
  }
  // Only the opt-ins change Blackhole's filter, which ignores other allowed names.
  const allowed = new Set(profile.syscalls.allowed.map((rule) => rule.name).filter((name) => OPT_IN_SYSCALLS.includes(name)))
  const denied = deniedSyscalls(profile)

  if (profile.enforceMode === 'permissive') {
    // Permissive mode denies nothing and logs the calls the filter would deny.
    lines.push(`SystemCallLog=${[...denied.keys()].sort().join(' ')}`)
  } else {
    lines.push('SystemCallFilter=@system-service')
    if (allowed.size > 0) lines.push(`SystemCallFilter=${[...allowed].sort().join(' ')}`)
    const entries = [...denied].sort(([a], [b]) => a.localeCompare(b))
    const words = entries.map(([name, errno]) => (errno === DEFAULT_ERRNO ? name : `${name}:${errno}`))
    lines.push(`SystemCallFilter=~${words.join(' ')}`)
    lines.push(`SystemCallErrorNumber=${DEFAULT_ERRNO}`)
    warnings.push('syscalls (default): systemd cannot deny the ioctls TIOCSTI and TIOCLINUX by argument; set the sysctl dev.tty.legacy_tiocsti=0')
  }
  lines.push('SystemCallArchitectures=native')
  return lines
}

function limits(profile: Profile): string[] {
  const limit = profile.resourceLimits
  const lines = ['', '# resource limits']
  lines.push(`LimitNOFILE=${limit.maxFileDescriptors}`)
  // RLIMIT_NPROC counts processes per uid, which with a dynamic or dedicated user are this service's.
  lines.push(`LimitNPROC=${limit.maxProcesses}`)
  lines.push('LimitCORE=0')
  lines.push(`TasksMax=${limit.maxProcesses}`)
  if (limit.maxMemory !== null) lines.push(`MemoryMax=${limit.maxMemory}`)
  if (limit.maxCpu !== null) lines.push(`CPUQuota=${Math.max(1, Math.round(limit.maxCpu * 100))}%`)
  return lines
}

function environment(profile: Profile): string[] {
  const env = profile.environment
  const names = Object.keys(env.set).sort()
  if (env.allow.length === 0 && names.length === 0) return []
  const lines = ['', '# environment']
  if (env.allow.length > 0) lines.push(`PassEnvironment=${env.allow.join(' ')}`)
  for (const name of names) lines.push(systemdEnvironment(name, env.set[name] ?? ''))
  return lines
}
