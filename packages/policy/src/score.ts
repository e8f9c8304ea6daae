// Exposure score: how much a profile leaves open, from 0 (tightest) to 10,
// in the spirit of `systemd-analyze security`. Each line rates one setting
// with a weight and an exposure between 0 and 1, and the score is
// 10 * sum(weight * exposure) / sum(weight), rounded to one decimal.
//
// Every profile gets the same lines with the same weights, and each line's
// exposure only grows as its setting gets more permissive (more paths,
// ports, capabilities or destinations, wider CIDRs, larger limits). So a
// profile that is stricter in any one setting always scores lower. Counts
// enter as 1 - base^sum, which keeps growing with every extra entry and
// never reaches 1, so no line saturates and hides a further loosening.

import { boundPorts, isBeneath } from './export/types.js'
import { resolveVarRun } from './parse/values.js'
import type { FileAccessMode, Profile } from './profile.js'
import { ARGUMENT_CHECKED_SYSCALLS, DEFAULT_DENIED_SYSCALLS } from './seccomp/syscall-sets.js'

export interface ScoreLine {
  /** Profile field the line rates, in YAML spelling, such as `network.mode`. */
  setting: string
  weight: number
  /** Exposure from 0 (the setting opens nothing) to 1 (the worst case). */
  exposure: number
  reason: string
}

export interface ScoreResult {
  /** Score from 0 to 10 with one decimal, where lower is safer. */
  score: number
  rating: string
  lines: ScoreLine[]
}

const MiB = 1024 * 1024
const GiB = 1024 * MiB

/** Capabilities scored on their own line, with weights by how much of the host each one opens. */
const CAPABILITY_WEIGHTS: Record<string, number> = {
  CAP_SYS_ADMIN: 3,
  CAP_SYS_MODULE: 3,
  CAP_SYS_PTRACE: 2.5,
  CAP_SYS_RAWIO: 2.5,
  CAP_DAC_OVERRIDE: 2,
  CAP_NET_ADMIN: 2,
  CAP_BPF: 2,
  CAP_DAC_READ_SEARCH: 1.5,
  CAP_SETUID: 1.5,
  CAP_SYS_RESOURCE: 1.5,
  CAP_MAC_ADMIN: 1.5,
  CAP_MAC_OVERRIDE: 1.5,
  CAP_SETGID: 1,
  CAP_SETPCAP: 1,
  CAP_NET_RAW: 1,
  CAP_CHOWN: 1,
  CAP_FOWNER: 1,
  CAP_SYS_BOOT: 1,
  CAP_SYS_TIME: 0.5,
  CAP_NET_BIND_SERVICE: 0.2,
}

// Re-allowing these hands the service a kernel attack surface or a way out
// of its namespaces, so they weigh more than the rest of the default deny
// set. The parser accepts only ptrace of these, but the score rates any profile.
const CRITICAL_SYSCALLS = new Set([
  'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'bpf', 'ptrace', 'mount',
  'pivot_root', 'unshare', 'setns', 'open_by_handle_at', 'io_uring_setup',
])

const SECRET_NAME = /SECRET|TOKEN|PASSWORD|PASSWD|KEY|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE/i
const LOADER_NAME = /^(PATH|LD_[A-Z_]+|NODE_OPTIONS|PYTHONPATH)$/

const SENSITIVE_PREFIXES = ['/etc', '/usr', '/bin', '/sbin', '/lib', '/lib64', '/boot', '/root', '/home']
const KERNEL_PREFIXES = ['/proc', '/sys', '/dev']
const SCRATCH_PREFIXES = ['/tmp', '/var/tmp', '/run']

const MODE_FACTORS: Record<FileAccessMode, number> = { r: 0.3, x: 0.4, rx: 0.5, w: 0.8, rw: 1, rwx: 1.3 }

/** Returns 1 - base^sum: 0 for an empty list, growing with every entry and below 1. */
function growth(sum: number, base: number): number {
  return 1 - base ** sum
}

/** Rates where a path lies: the root and system folders weigh most, scratch space least. */
function pathRisk(written: string): number {
  const path = resolveVarRun(written)
  if (path === '/') return 20
  if (KERNEL_PREFIXES.some((prefix) => isBeneath(path, prefix))) return 5
  if (SENSITIVE_PREFIXES.some((prefix) => isBeneath(path, prefix))) return 3
  if (SCRATCH_PREFIXES.some((prefix) => isBeneath(path, prefix))) return 0.5
  return 1
}

/** Returns how wide a CIDR is as 1 - prefix/bits: 0 for one host, 1 for /0, a log scale of its address count. */
function cidrBreadth(cidr: string): number {
  const [address = '', prefixText] = cidr.split('/')
  const bits = address.includes(':') ? 128 : 32
  const prefix = prefixText === undefined ? bits : Number(prefixText)
  // An unreadable prefix counts as the whole address space.
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) return 1
  return 1 - prefix / bits
}

const list = (items: string[]): string => (items.length > 0 ? items.join(', ') : 'none')

/** Scores a profile's exposure; see the file header for the formula and its guarantees. */
export function scoreProfile(profile: Profile): ScoreResult {
  const lines: ScoreLine[] = [
    ...identityLines(profile),
    ...capabilityLines(profile),
    ...filesystemLines(profile),
    ...networkLines(profile),
    ...syscallLines(profile),
    ...limitLines(profile),
    ...environmentLines(profile),
  ]
  const total = lines.reduce((sum, line) => sum + line.weight, 0)
  const exposed = lines.reduce((sum, line) => sum + line.weight * line.exposure, 0)
  const score = Math.round((100 * exposed) / total) / 10
  return { score, rating: ratingOf(score), lines }
}

/** Returns the rating for a score, from SAFE (below 1) to UNSAFE (7 and above). */
export function ratingOf(score: number): string {
  if (score < 1) return 'SAFE'
  if (score < 3) return 'OK'
  if (score < 5) return 'MEDIUM'
  if (score < 7) return 'EXPOSED'
  return 'UNSAFE'
}

function identityLines(profile: Profile): ScoreLine[] {
  const user: ScoreLine =
    profile.user === 'root'
      ? { setting: 'user', weight: 10, exposure: 1, reason: 'runs as root' }
      : profile.user === null
        ? { setting: 'user', weight: 10, exposure: 0, reason: 'dynamic user of its own' }
        : { setting: 'user', weight: 10, exposure: 0.3, reason: `named user ${profile.user} may own files of other services` }
  const group: ScoreLine =
    profile.group === 'root'
      ? { setting: 'group', weight: 2, exposure: 1, reason: 'group root' }
      : profile.group === null
        ? { setting: 'group', weight: 2, exposure: 0, reason: 'group of its own' }
        : { setting: 'group', weight: 2, exposure: 0.3, reason: `named group ${profile.group} may be shared` }
  const modes = { enforce: 0, permissive: 0.6, disabled: 1 }
  const reasons = {
    enforce: 'seccomp and Landlock deny what the profile forbids',
    permissive: 'denials are only logged',
    disabled: 'no seccomp filter and no Landlock rules',
  }
  const mode = profile.enforceMode
  return [user, group, { setting: 'enforce_mode', weight: 10, exposure: modes[mode], reason: `${mode}: ${reasons[mode]}` }]
}

function capabilityLines(profile: Profile): ScoreLine[] {
  const granted = new Set(profile.capabilities)
  const lines: ScoreLine[] = Object.entries(CAPABILITY_WEIGHTS).map(([cap, weight]) => ({
    setting: `capabilities.${cap}`,
    weight,
    exposure: granted.has(cap) ? 1 : 0,
    reason: granted.has(cap) ? 'granted' : 'dropped',
  }))
  const others = profile.capabilities.filter((cap) => !(cap in CAPABILITY_WEIGHTS))
  lines.push({
    setting: 'capabilities.other',
    weight: 1.5,
    exposure: growth(others.length, 0.6),
    reason: `other capabilities granted: ${list(others)}`,
  })
  return lines
}

function filesystemLines(profile: Profile): ScoreLine[] {
  const fs = profile.filesystem
  let writableRisk = 0
  for (const writable of fs.writablePaths) {
    const unbounded = (writable.sizeBytes ?? profile.resourceLimits.maxTmpfs) === null
    writableRisk += pathRisk(writable.path) * (unbounded ? 1.5 : 1)
  }
  const dataRisk = fs.dataPaths.reduce((sum, path) => sum + pathRisk(path), 0)
  const accessRisk = fs.fileAccess.reduce((sum, rule) => sum + pathRisk(rule.path) * MODE_FACTORS[rule.mode], 0)
  return [
    {
      setting: 'filesystem.read_only_root',
      weight: 8,
      exposure: fs.readOnlyRoot ? 0 : 1,
      reason: fs.readOnlyRoot ? 'root mounted read-only' : 'root is writable',
    },
    {
      setting: 'filesystem.writable_paths',
      weight: 6,
      exposure: growth(writableRisk, 0.8),
      reason: `writable: ${list(fs.writablePaths.map((entry) => entry.path))}`,
    },
    {
      setting: 'filesystem.data_paths',
      weight: 3,
      exposure: growth(dataRisk, 0.8),
      reason: `persistent: ${list(fs.dataPaths)}`,
    },
    {
      setting: 'filesystem.file_access',
      weight: 3,
      exposure: growth(accessRisk, 0.85),
      reason: `extra access: ${list(fs.fileAccess.map((rule) => `${rule.path} (${rule.mode})`))}`,
    },
    {
      setting: 'filesystem.denied_paths',
      weight: 2,
      // Each hidden path lowers the exposure; none hidden is the worst.
      exposure: 0.75 ** fs.deniedPaths.length,
      reason: `hidden: ${list(fs.deniedPaths)}`,
    },
  ]
}

function networkLines(profile: Profile): ScoreLine[] {
  const net = profile.network
  const modeExposure = { host: 1, veth: 0.5, none: 0 }[net.mode]
  const modeReason = {
    host: 'shares the host network',
    veth: 'own network namespace with a veth link',
    none: 'own network namespace without a link',
  }[net.mode]
  // Destinations and ports matter less without a link, but never vanish, so
  // tightening them still lowers the score.
  const reach = net.mode === 'none' ? 0.2 : 1

  const hostMode = net.mode === 'host'
  let localhost = { exposure: 0, reason: 'loopback blocked' }
  if (net.allowLocalhost && hostMode) localhost = { exposure: 1, reason: "reaches the host's loopback services" }
  else if (net.allowLocalhost) localhost = { exposure: 0.6, reason: 'loopback allowed' }
  let unix = { exposure: 0, reason: 'unix sockets denied' }
  if (net.allowUnixSockets && hostMode) unix = { exposure: 1, reason: "unix sockets allowed, including the host's abstract ones" }
  else if (net.allowUnixSockets) unix = { exposure: 0.5, reason: 'unix sockets allowed' }

  let closed = 1
  for (const cidr of net.outbound) closed *= 1 - 0.9 * (0.2 + 0.8 * cidrBreadth(cidr))
  const ports = boundPorts(profile)
  const portRisk = ports.reduce((sum, port) => sum + (port < 1024 ? 1.2 : 1), 0) +
    net.listen.filter((socket) => socket.kind === 'unix').length * 0.5

  return [
    { setting: 'network.mode', weight: 9, exposure: modeExposure, reason: `${net.mode}: ${modeReason}` },
    { setting: 'network.allow_localhost', weight: 2, ...localhost },
    { setting: 'network.allow_unix_sockets', weight: 3, ...unix },
    {
      setting: 'network.outbound',
      weight: 5,
      exposure: (1 - closed) * reach,
      reason: `destinations: ${list(net.outbound)}`,
    },
    {
      setting: 'network.allowed_ports',
      weight: 3,
      exposure: growth(portRisk, 0.8) * (net.mode === 'none' ? 0.3 : 1),
      reason: `ports: ${list(ports.map(String))}`,
    },
  ]
}

function syscallLines(profile: Profile): ScoreLine[] {
  const defaults = new Set(DEFAULT_DENIED_SYSCALLS)
  let allowedRisk = 0
  const risky: string[] = []
  for (const { name } of profile.syscalls.allowed) {
    if (CRITICAL_SYSCALLS.has(name)) allowedRisk += 2
    else if (defaults.has(name)) allowedRisk += 1
    else if (ARGUMENT_CHECKED_SYSCALLS.includes(name)) allowedRisk += 0.7
    else {
      // A name the default filter never denies changes little.
      allowedRisk += 0.05
      continue
    }
    risky.push(name)
  }
  const extraDenied = profile.syscalls.denied.filter((rule) => !defaults.has(rule.name)).map((rule) => rule.name)
  return [
    {
      setting: 'syscalls.allowed',
      weight: 6,
      exposure: growth(allowedRisk, 0.7),
      reason: `re-allowed from the default deny set: ${list(risky)}`,
    },
    {
      setting: 'syscalls.denied',
      weight: 1,
      exposure: 0.85 ** extraDenied.length,
      reason: `denied beyond the defaults: ${list(extraDenied)}`,
    },
  ]
}

function limitLines(profile: Profile): ScoreLine[] {
  const limit = profile.resourceLimits
  const bytes = (value: number): string => `${Math.round(value / MiB)} MiB`
  return [
    {
      setting: 'resource_limits.max_memory',
      weight: 4,
      exposure: limit.maxMemory === null ? 1 : limit.maxMemory / (limit.maxMemory + GiB),
      reason: limit.maxMemory === null ? 'no memory limit' : bytes(limit.maxMemory),
    },
    {
      setting: 'resource_limits.max_cpu',
      weight: 2,
      exposure: limit.maxCpu === null ? 1 : limit.maxCpu / (limit.maxCpu + 1),
      reason: limit.maxCpu === null ? 'no CPU limit' : `${limit.maxCpu} CPUs`,
    },
    {
      setting: 'resource_limits.max_processes',
      weight: 2,
      exposure: limit.maxProcesses / (limit.maxProcesses + 128),
      reason: `${limit.maxProcesses} processes`,
    },
    {
      setting: 'resource_limits.max_file_descriptors',
      weight: 1,
      exposure: limit.maxFileDescriptors / (limit.maxFileDescriptors + 1024),
      reason: `${limit.maxFileDescriptors} descriptors`,
    },
    {
      setting: 'resource_limits.max_tmpfs',
      weight: 1,
      exposure: limit.maxTmpfs === null ? 1 : limit.maxTmpfs / (limit.maxTmpfs + 256 * MiB),
      reason: limit.maxTmpfs === null ? 'tmpfs size not limited' : `${bytes(limit.maxTmpfs)} per tmpfs`,
    },
  ]
}

function environmentLines(profile: Profile): ScoreLine[] {
  const names = profile.environment.allow
  const risk = names.reduce((sum, name) => sum + (SECRET_NAME.test(name) ? 3 : LOADER_NAME.test(name) ? 2 : 0.5), 0)
  const secrets = names.filter((name) => SECRET_NAME.test(name))
  const reason = `passed through: ${list(names)}` + (secrets.length > 0 ? `; secrets: ${secrets.join(', ')}` : '')
  return [{ setting: 'environment.allow', weight: 3, exposure: growth(risk, 0.8), reason }]
}

/** Formats a score as a table, one line per setting, then the total, for the command line. */
export function formatScore(result: ScoreResult): string {
  const width = Math.max(...result.lines.map((line) => line.setting.length), 'SETTING'.length)
  const rows = [`${'SETTING'.padEnd(width)}  WEIGHT  EXPOSURE  REASON`]
  for (const line of result.lines) {
    rows.push(`${line.setting.padEnd(width)}  ${String(line.weight).padStart(6)}  ${line.exposure.toFixed(2).padStart(8)}  ${line.reason}`)
  }
  rows.push('', `Overall exposure: ${result.score.toFixed(1)} ${result.rating}`)
  return rows.join('\n') + '\n'
}
