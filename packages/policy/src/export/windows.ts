// Windows export: a JSON plan for a restricted token and a job object, the
// two mechanisms a Windows launcher combines (CreateRestrictedToken, then
// CreateProcessAsUser into a job with limits). It is a plan for such a
// launcher or an operator, not a file Windows reads directly.
//
// Cannot express (each becomes a warning when the profile uses it):
// - capabilities without a Windows privilege, such as CAP_NET_BIND_SERVICE
//   (any user may bind a low port on Windows; the firewall decides);
// - syscalls: Windows has no per-process syscall filter for Win32 programs;
// - paths with no Windows counterpart (/proc, /sys, /etc/...);
// - network.allow_unix_sockets false: AF_UNIX sockets are files, guarded by
//   ACLs, and the firewall does not see them;
// - network.mode none: a job has no network namespace, so the firewall
//   blocks every address instead.

import type { FileAccessMode, Profile } from '../profile.js'
import { boundPorts, hasAnyDestination, isBeneath, serviceNameOf, type ExportOptions, type ExportResult } from './types.js'

/** Privileges a token keeps for each capability; a missing entry has no Windows equivalent. */
const CAPABILITY_PRIVILEGES: Record<string, string[]> = {
  CAP_SYS_TIME: ['SeSystemtimePrivilege', 'SeTimeZonePrivilege'],
  CAP_SYS_BOOT: ['SeShutdownPrivilege'],
  CAP_SYS_PTRACE: ['SeDebugPrivilege'],
  CAP_SYS_MODULE: ['SeLoadDriverPrivilege'],
  CAP_DAC_READ_SEARCH: ['SeBackupPrivilege'],
  CAP_DAC_OVERRIDE: ['SeBackupPrivilege', 'SeRestorePrivilege'],
  CAP_FOWNER: ['SeTakeOwnershipPrivilege'],
  CAP_CHOWN: ['SeTakeOwnershipPrivilege', 'SeRestorePrivilege'],
  CAP_SYS_NICE: ['SeIncreaseBasePriorityPrivilege'],
  CAP_IPC_LOCK: ['SeLockMemoryPrivilege'],
  CAP_SYS_RESOURCE: ['SeIncreaseQuotaPrivilege', 'SeIncreaseWorkingSetPrivilege'],
  CAP_AUDIT_WRITE: ['SeAuditPrivilege'],
  CAP_AUDIT_CONTROL: ['SeSecurityPrivilege'],
  CAP_SETUID: ['SeImpersonatePrivilege', 'SeAssignPrimaryTokenPrivilege'],
  CAP_SYS_ADMIN: ['SeTcbPrivilege', 'SeManageVolumePrivilege', 'SeCreateSymbolicLinkPrivilege'],
}

/** Every privilege a token may hold; the plan removes all but the mapped ones and SeChangeNotifyPrivilege. */
const ALL_PRIVILEGES = [
  'SeAssignPrimaryTokenPrivilege', 'SeAuditPrivilege', 'SeBackupPrivilege', 'SeChangeNotifyPrivilege',
  'SeCreateGlobalPrivilege', 'SeCreatePagefilePrivilege', 'SeCreatePermanentPrivilege',
  'SeCreateSymbolicLinkPrivilege', 'SeCreateTokenPrivilege', 'SeDebugPrivilege',
  'SeDelegateSessionUserImpersonatePrivilege', 'SeEnableDelegationPrivilege', 'SeImpersonatePrivilege',
  'SeIncreaseBasePriorityPrivilege', 'SeIncreaseQuotaPrivilege', 'SeIncreaseWorkingSetPrivilege',
  'SeLoadDriverPrivilege', 'SeLockMemoryPrivilege', 'SeMachineAccountPrivilege', 'SeManageVolumePrivilege',
  'SeProfileSingleProcessPrivilege', 'SeRelabelPrivilege', 'SeRemoteShutdownPrivilege', 'SeRestorePrivilege',
  'SeSecurityPrivilege', 'SeShutdownPrivilege', 'SeSyncAgentPrivilege', 'SeSystemEnvironmentPrivilege',
  'SeSystemProfilePrivilege', 'SeSystemtimePrivilege', 'SeTakeOwnershipPrivilege', 'SeTcbPrivilege',
  'SeTimeZonePrivilege', 'SeTrustedCredManAccessPrivilege', 'SeUndockPrivilege',
]

// Path traversal needs SeChangeNotifyPrivilege; every token keeps it.
const ALWAYS_KEPT = 'SeChangeNotifyPrivilege'

const FS_RIGHTS: Record<FileAccessMode, string> = {
  r: 'Read',
  w: 'Write',
  rw: 'Modify',
  x: 'ReadAndExecute',
  rx: 'ReadAndExecute',
  rwx: 'Modify',
}

export interface WindowsPlan {
  format: 'blackhole-windows-plan'
  version: 1
  service: string
  profile: string
  token: {
    integrityLevel: 'Low' | 'Medium'
    privilegesKept: string[]
    privilegesRemoved: string[]
    sidsToDisable: string[]
    restrictingSids: string[]
  }
  job: {
    ActiveProcessLimit: number
    JobMemoryLimit: number | null
    ProcessMemoryLimit: number | null
    CpuRateControl: { enabled: boolean; hardCap: boolean; cpus: number | null }
    UIRestrictions: string[]
    KillOnJobClose: boolean
    DieOnUnhandledException: boolean
  }
  filesystem: { grants: PathPlan[]; denies: PathPlan[] }
  network: {
    /**
     * Action for traffic no rule allows. Windows Firewall lets a block rule
     * override every allow rule, so the default block cannot be a rule: it is
     * the firewall profile's default, or a low-weight WFP filter for the program.
     */
    defaultAction: { inbound: 'Allow' | 'Block'; outbound: 'Allow' | 'Block' }
    firewallRules: FirewallRule[]
  }
}

export interface PathPlan {
  linuxPath: string
  /** Suggested Windows path; null when the Linux path has no counterpart. */
  windowsPath: string | null
  rights: string
  trustee: string
}

export interface FirewallRule {
  name: string
  direction: 'Inbound' | 'Outbound'
  action: 'Allow' | 'Block'
  protocol: 'TCP' | 'Any'
  remoteAddresses: string[]
  localPorts?: number[]
  remotePorts?: number[]
}

// The SID every restricted token also carries as a restricting SID, so an
// access check must pass for it as well as for the user.
const RESTRICTED_SID = 'S-1-5-12'

/**
 * Suggests a Windows path for a Linux path in the sandbox, or null. Per-service
 * folders live under %ProgramData%\Blackhole\SERVICE, temporary ones under %TEMP%.
 */
export function windowsPathFor(path: string, service: string): string | null {
  const base = `%ProgramData%\\Blackhole\\${service}`
  const rest = (prefix: string): string => path.slice(prefix.length).replace(/\//g, '\\')
  const table: [prefix: string, target: string][] = [
    ['/tmp', `%TEMP%\\Blackhole\\${service}`],
    ['/var/tmp', `%TEMP%\\Blackhole\\${service}`],
    ['/var/log', `${base}\\log`],
    ['/var/lib', `${base}\\data`],
    ['/var/cache', `${base}\\cache`],
    ['/run', `${base}\\run`],
    ['/var/run', `${base}\\run`],
    ['/srv', `${base}\\srv`],
    ['/opt', `%ProgramFiles%`],
  ]
  for (const [prefix, target] of table) {
    if (isBeneath(path, prefix)) return target + rest(prefix)
  }
  return null
}

export function buildWindowsPlan(profile: Profile, options: ExportOptions): { plan: WindowsPlan; warnings: string[] } {
  const service = serviceNameOf(profile, options)
  const warnings: string[] = []

  const kept = new Set([ALWAYS_KEPT])
  for (const cap of profile.capabilities) {
    const privileges = CAPABILITY_PRIVILEGES[cap]
    if (privileges) privileges.forEach((privilege) => kept.add(privilege))
    else if (cap === 'CAP_NET_BIND_SERVICE') warnings.push(`capabilities ${cap}: no Windows equivalent is needed, any user may bind a port below 1024`)
    else warnings.push(`capabilities ${cap}: no Windows privilege matches it`)
  }
  // A Low token cannot write to folders labelled Medium, which most folders
  // are, so a granted privilege or a root identity gets Medium.
  const integrityLevel = kept.size > 1 || profile.user === 'root' ? 'Medium' : 'Low'

  const trustee = `restricted SID of the service (${RESTRICTED_SID} plus the service account)`
  const grants: PathPlan[] = []
  const denies: PathPlan[] = []
  const mapPath = (linuxPath: string, rights: string, list: PathPlan[], rule: string): void => {
    const windowsPath = windowsPathFor(linuxPath, service)
    if (windowsPath === null) warnings.push(`${rule} ${linuxPath}: no Windows path matches it; the plan marks it unmappable`)
    list.push({ linuxPath, windowsPath, rights, trustee })
  }
  for (const writable of profile.filesystem.writablePaths) mapPath(writable.path, 'Modify', grants, 'filesystem.writable_paths')
  for (const data of profile.filesystem.dataPaths) mapPath(data, 'Modify', grants, 'filesystem.data_paths')
  for (const rule of profile.filesystem.fileAccess) mapPath(rule.path, FS_RIGHTS[rule.mode], grants, 'filesystem.file_access')
  for (const denied of profile.filesystem.deniedPaths) mapPath(denied, 'FullControl', denies, 'filesystem.denied_paths')
  if (!profile.filesystem.readOnlyRoot) {
    warnings.push('filesystem.read_only_root false: the plan grants no write access outside the listed paths')
  }

  const limit = profile.resourceLimits
  const plan: WindowsPlan = {
    format: 'blackhole-windows-plan',
    version: 1,
    service,
    profile: profile.name,
    token: {
      integrityLevel,
      privilegesKept: [...kept].sort(),
      privilegesRemoved: ALL_PRIVILEGES.filter((privilege) => !kept.has(privilege)),
      sidsToDisable: ['BUILTIN\\Administrators', 'BUILTIN\\Power Users', 'BUILTIN\\Backup Operators', 'NT AUTHORITY\\Local account and member of Administrators group'],
      restrictingSids: [RESTRICTED_SID, 'the service account SID', 'S-1-1-0 (Everyone)'],
    },
    job: {
      ActiveProcessLimit: limit.maxProcesses,
      JobMemoryLimit: limit.maxMemory,
      ProcessMemoryLimit: limit.maxMemory,
      // CpuRate is in 1/100 of a percent of all CPUs, so the launcher computes
      // it from `cpus` and the host's logical CPU count.
      CpuRateControl: { enabled: limit.maxCpu !== null, hardCap: limit.maxCpu !== null, cpus: limit.maxCpu },
      UIRestrictions: ['DESKTOP', 'DISPLAYSETTINGS', 'EXITWINDOWS', 'GLOBALATOMS', 'HANDLES', 'READCLIPBOARD', 'SYSTEMPARAMETERS', 'WRITECLIPBOARD'],
      KillOnJobClose: true,
      DieOnUnhandledException: true,
    },
    filesystem: { grants, denies },
    network: {
      defaultAction: profile.network.mode === 'host'
        ? { inbound: 'Allow', outbound: 'Allow' }
        : { inbound: 'Block', outbound: 'Block' },
      firewallRules: firewallRules(profile, service, warnings),
    },
  }
  warnings.push(...unsupported(profile))
  return { plan, warnings }
}

function firewallRules(profile: Profile, service: string, warnings: string[]): FirewallRule[] {
  const net = profile.network
  if (net.mode === 'host') return []
  const rules: FirewallRule[] = []
  const name = (suffix: string): string => `Blackhole ${service} ${suffix}`
  const ports = boundPorts(profile)
  if (net.allowLocalhost) {
    rules.push({ name: name('localhost'), direction: 'Outbound', action: 'Allow', protocol: 'TCP', remoteAddresses: ['127.0.0.0/8', '::1'] })
  }
  if (net.mode === 'veth' && net.outbound.length > 0) {
    const rule: FirewallRule = { name: name('outbound'), direction: 'Outbound', action: 'Allow', protocol: 'TCP', remoteAddresses: [...net.outbound] }
    if (net.allowedPorts.length > 0) rule.remotePorts = [...net.allowedPorts]
    rules.push(rule)
  }
  if (ports.length > 0) {
    const remote = net.mode === 'none' ? ['127.0.0.0/8', '::1'] : ['Any']
    rules.push({ name: name('listen'), direction: 'Inbound', action: 'Allow', protocol: 'TCP', remoteAddresses: remote, localPorts: ports })
  }
  if (net.mode === 'none') warnings.push('network.mode none: Windows has no network namespace; the firewall blocks every address')
  if (net.mode === 'veth' && hasAnyDestination(net.outbound)) {
    warnings.push('network.outbound: a /0 destination opens the firewall to every address')
  }
  return rules
}

function unsupported(profile: Profile): string[] {
  const warnings: string[] = []
  if (profile.user !== null) {
    warnings.push(`user ${profile.user}: a restricted token derives from the launching account; create a matching local account to run as`)
  }
  if (profile.syscalls.denied.length > 0 || profile.syscalls.allowed.length > 0) {
    const names = [...profile.syscalls.denied, ...profile.syscalls.allowed].map((rule) => rule.name)
    warnings.push(`syscalls [${names.join(', ')}]: Windows has no syscall filter for this plan`)
  }
  if (!profile.network.allowUnixSockets) {
    warnings.push('network.allow_unix_sockets false: the firewall cannot block AF_UNIX sockets; their files need ACLs')
  }
  if (profile.enforceMode !== 'enforce') {
    warnings.push(`enforce_mode: ${profile.enforceMode} has no Windows form; the plan always enforces`)
  }
  if (profile.resourceLimits.maxFileDescriptors > 0) {
    warnings.push(`resource_limits.max_file_descriptors ${profile.resourceLimits.maxFileDescriptors}: a job has no handle limit`)
  }
  if (profile.environment.allow.length > 0) {
    warnings.push(`environment.allow [${profile.environment.allow.join(', ')}]: the plan lists no environment; the launcher passes it`)
  }
  return warnings
}

export function exportWindows(profile: Profile, options: ExportOptions): ExportResult {
  const { plan, warnings } = buildWindowsPlan(profile, options)
  return {
    text: JSON.stringify(plan, null, 2) + '\n',
    warnings,
    mediaType: 'application/json',
    fileName: `${plan.service}.windows-plan.json`,
  }
}
