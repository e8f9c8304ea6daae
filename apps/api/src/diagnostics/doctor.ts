// `blackhole doctor`: what this host offers the sandbox, and what each
// missing piece means for Blackhole. collectHostFacts reads the host;
// formatDoctor and doctorStatus are pure, so fixed fact sets can test them.

import { spawnSync } from 'node:child_process'
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { release } from 'node:os'
import { capabilityName } from '@blackhole/policy'
import { hostFacts } from '@blackhole/native'
import { CONTROLLERS, detectLayout, placeControllers, type Controller } from '../sandbox/cgroups.js'

export interface HostFactsReport {
  kernel: string
  root: boolean
  uid: number
  /** Namespace kinds the launcher creates and whether /proc/self/ns lists each. */
  namespaces: Record<NamespaceKind, boolean>
  userNamespaces: {
    /** /proc/sys/user/max_user_namespaces; null when the file is missing. */
    max: number | null
    /** kernel.unprivileged_userns_clone (Debian and Ubuntu kernels); null when the kernel has no such setting. */
    unprivilegedClone: number | null
  }
  cgroups: {
    layout: 'v1' | 'v2' | 'hybrid' | 'none'
    unified: string | null
    /** cgroup version serving each controller the supervisor uses; null when none does. */
    controllers: Record<Controller, 1 | 2 | null>
  }
  landlockAbi: number
  /** Seccomp filter mode (a `Seccomp:` line in /proc/self/status). */
  seccompFilter: boolean
  seccompNotify: boolean
  audit: {
    /** True when a NETLINK_AUDIT socket opened and replied to AUDIT_GET. */
    netlink: boolean
    /** The kernel's audit `enabled` value (0 off, 1 on, 2 locked); null when unknown. */
    enabled: number | null
    /** Reason the check failed, for example `EPROTONOSUPPORT`; empty when it worked. */
    error: string
  }
  apparmor: {
    /** AppArmor is an active LSM (/sys/kernel/security/lsm or /sys/module/apparmor/parameters/enabled). */
    enabled: boolean
    /** Path of apparmor_parser, for offline profile checks; null when not found. */
    parser: string | null
  }
  pidfd: boolean
  clone3: boolean
  /** Capability names missing from the supervisor's bounding set. */
  missingCapabilities: string[]
  tools: { bwrap: string | null; nft: string | null; ip: string | null }
}

export type NamespaceKind = 'pid' | 'mnt' | 'net' | 'ipc' | 'uts' | 'cgroup'

const NAMESPACE_KINDS: readonly NamespaceKind[] = ['pid', 'mnt', 'net', 'ipc', 'uts', 'cgroup']

const SEARCH_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

function readInteger(path: string): number | null {
  const text = readText(path)?.trim()
  if (text === undefined || !/^-?\d+$/.test(text)) return null
  return Number(text)
}

/** Finds an executable by name in PATH and the usual system folders; null when absent. */
export function findExecutable(name: string, searchPath = `${process.env.PATH ?? ''}${delimiter}${SEARCH_PATH}`): string | null {
  for (const dir of searchPath.split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      if (statSync(candidate).isFile()) return candidate
    } catch {
      // Not in this folder.
    }
  }
  return null
}

// Sends AUDIT_GET over NETLINK_AUDIT and prints {"enabled": N} or {"error": "ENAME"}.
// Node has no netlink sockets, so python3 makes the request.
const AUDIT_PROBE = String.raw`
import errno, json, socket, struct
try:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 9)
    sock.settimeout(2)
    sock.bind((0, 0))
    sock.send(struct.pack('=IHHII', 16, 1000, 1, 1, 0))
    data = sock.recv(8192)
    kind = struct.unpack('=H', data[4:6])[0]
    if kind == 1000:
        print(json.dumps({'enabled': struct.unpack('=I', data[20:24])[0]}))
    else:
        code = -struct.unpack('=i', data[16:20])[0]
        print(json.dumps({'error': errno.errorcode.get(code, str(code))}))
except OSError as error:
    print(json.dumps({'error': errno.errorcode.get(error.errno, str(error))}))
`

function probeAudit(): HostFactsReport['audit'] {
  const python = findExecutable('python3')
  if (python === null) return { netlink: false, enabled: null, error: 'python3 not found, so the audit socket was not tried' }
  const run = spawnSync(python, ['-c', AUDIT_PROBE], { encoding: 'utf8', timeout: 5000 })
  try {
    const result = JSON.parse(run.stdout) as { enabled?: number; error?: string }
    if (typeof result.enabled === 'number') return { netlink: true, enabled: result.enabled, error: '' }
    return { netlink: false, enabled: null, error: result.error ?? 'no reply' }
  } catch {
    return { netlink: false, enabled: null, error: `the audit probe failed: ${run.stderr.trim() || run.error?.message || 'no output'}` }
  }
}

function apparmorEnabled(): boolean {
  const lsm = (readText('/sys/kernel/security/lsm') ?? '').trim().split(',')
  if (lsm.includes('apparmor')) return true
  return readText('/sys/module/apparmor/parameters/enabled')?.trim() === 'Y'
}

function missingCapabilities(boundingSet: string, capLastCap: number): string[] {
  const mask = BigInt(`0x${boundingSet || '0'}`)
  const missing: string[] = []
  for (let cap = 0; cap <= capLastCap; cap++) {
    if (((mask >> BigInt(cap)) & 1n) === 0n) missing.push(capabilityName(cap) ?? `capability ${cap}`)
  }
  return missing
}

/** Reads the host's facts from /proc, /sys, the native addon, PATH and one audit netlink request. */
export function collectHostFacts(): HostFactsReport {
  const native = hostFacts()
  const layout = detectLayout()
  const placements = placeControllers(layout)
  const controllers = Object.fromEntries(
    CONTROLLERS.map((controller) => [controller, placements[controller]?.version ?? null]),
  ) as Record<Controller, 1 | 2 | null>
  const status = readText('/proc/self/status') ?? ''
  const uid = process.getuid?.() ?? -1
  return {
    kernel: release(),
    root: uid === 0,
    uid,
    namespaces: Object.fromEntries(NAMESPACE_KINDS.map((kind) => [kind, existsSync(`/proc/self/ns/${kind}`)])) as Record<NamespaceKind, boolean>,
    userNamespaces: {
      max: readInteger('/proc/sys/user/max_user_namespaces'),
      unprivilegedClone: readInteger('/proc/sys/kernel/unprivileged_userns_clone'),
    },
    cgroups: { layout: layout.kind, unified: layout.unified, controllers },
    landlockAbi: native.landlockAbi,
    seccompFilter: /^Seccomp:/m.test(status),
    seccompNotify: native.seccompNotify,
    audit: probeAudit(),
    apparmor: { enabled: apparmorEnabled(), parser: findExecutable('apparmor_parser') },
    pidfd: native.pidfd,
    clone3: native.clone3,
    missingCapabilities: missingCapabilities(native.boundingSet, native.capLastCap),
    tools: { bwrap: findExecutable('bwrap'), nft: findExecutable('nft'), ip: findExecutable('ip') },
  }
}

/** One line of the doctor's output. `required` marks a fact without which no sandbox starts. */
export interface DoctorCheck {
  name: string
  ok: boolean
  required: boolean
  /** The value found on the host. */
  detail: string
  /** Consequence of a missing piece for Blackhole; empty when ok. */
  impact: string
}

function check(name: string, ok: boolean, required: boolean, detail: string, impact: string): DoctorCheck {
  return { name, ok, required, detail, impact: ok ? '' : impact }
}

function landlockImpact(abi: number): string {
  if (abi < 1) return 'no Landlock: every profile in enforce mode is rejected; permissive profiles start without file and port rules'
  if (abi < 4) return `Landlock ABI ${abi}: TCP port rules need ABI 4; profiles in enforce mode with network mode none or veth, or with allowed_ports, are rejected`
  if (abi < 6) return `Landlock ABI ${abi}: signal and abstract unix socket scoping need ABI 6; sandboxes can signal and reach abstract sockets outside them`
  return `Landlock ABI ${abi}: denial audit records need ABI 7; Landlock denials are not reported as events`
}

function controllerImpact(controller: Controller): string {
  switch (controller) {
    case 'memory':
      return 'no memory controller: every profile has a memory limit (max_memory defaults to 512 MiB), so no service can start'
    case 'pids':
      return 'no pids controller: every profile has a process limit (max_processes defaults to 64), so no service can start'
    case 'cpu':
      return 'no cpu controller: profiles that set max_cpu fail to start'
    case 'cpuacct':
      return 'no cpuacct controller: CPU use is reported as 0'
    case 'freezer':
      return 'no freezer: isolate cannot freeze a service, and terminate kills without freezing first'
  }
}

function onOff(value: boolean): string {
  return value ? 'yes' : 'no'
}

/** Evaluates the facts into checks, in the order the doctor prints them. */
export function doctorChecks(report: HostFactsReport): DoctorCheck[] {
  const checks: DoctorCheck[] = []
  checks.push(check('root', report.root, true, report.root ? 'uid 0' : `uid ${report.uid}`,
    'not root: the launcher needs CAP_SYS_ADMIN for namespaces and mounts and root for cgroups; run blackhole as root'))

  const missingNs = NAMESPACE_KINDS.filter((kind) => !report.namespaces[kind])
  checks.push(check('namespaces', missingNs.length === 0, true,
    missingNs.length === 0 ? NAMESPACE_KINDS.join(', ') : `missing ${missingNs.join(', ')}`,
    `no ${missingNs.join(', ')} namespaces: the launcher cannot isolate services; use a kernel built with them`))

  const userns = report.userNamespaces
  const usernsOn = (userns.max ?? 0) > 0 && userns.unprivilegedClone !== 0
  const usernsDetail = `max_user_namespaces ${userns.max ?? 'missing'}` +
    (userns.unprivilegedClone === null ? '' : `, unprivileged_userns_clone ${userns.unprivilegedClone}`)
  checks.push(check('user namespaces', usernsOn, false, usernsDetail,
    'user namespaces are off: Blackhole does not need them, because it runs as root and the sandbox denies creating them'))

  const cgroupsDetail = `${report.cgroups.layout}` + (report.cgroups.unified === null ? '' : ` (cgroup2 at ${report.cgroups.unified})`) + ': ' +
    CONTROLLERS.map((c) => `${c} ${report.cgroups.controllers[c] === null ? 'missing' : `v${report.cgroups.controllers[c]}`}`).join(', ')
  checks.push(check('cgroups', report.cgroups.layout !== 'none', true, cgroupsDetail,
    'no cgroup hierarchy is mounted: mount cgroup2 at /sys/fs/cgroup or the v1 controllers under it'))
  for (const controller of CONTROLLERS) {
    if (report.cgroups.layout === 'none' || report.cgroups.controllers[controller] !== null) continue
    const required = controller === 'memory' || controller === 'pids'
    checks.push(check(`cgroup ${controller}`, false, required, 'missing', controllerImpact(controller)))
  }

  checks.push(check('seccomp filter', report.seccompFilter, true, onOff(report.seccompFilter),
    'no seccomp filters: the kernel lacks CONFIG_SECCOMP_FILTER, so no syscall rules can be enforced'))
  checks.push(check('seccomp user notification', report.seccompNotify, true, onOff(report.seccompNotify),
    'no seccomp user notification (Linux 5.0+): the supervisor cannot see or decide denied syscalls, so sandboxes with a filter cannot start'))
  checks.push(check('Landlock', report.landlockAbi >= 7, false, `ABI ${report.landlockAbi}`, landlockImpact(report.landlockAbi)))
  checks.push(check('pidfd', report.pidfd, true, onOff(report.pidfd),
    'no pidfd (Linux 5.3+): the launcher starts sandboxes with CLONE_PIDFD and watches their exit through it'))
  checks.push(check('clone3', report.clone3, false, onOff(report.clone3),
    'no clone3 (Linux 5.3+): the launcher falls back to clone, which works the same'))

  const audit = report.audit
  const auditOn = audit.netlink && audit.enabled !== null && audit.enabled > 0
  const auditDetail = audit.netlink ? `netlink socket opened, enabled ${audit.enabled}` : `netlink socket failed: ${audit.error}`
  const auditImpact = audit.netlink
    ? 'kernel audit is off (enabled 0): the kernel logs no Landlock denials while it stays off; auditctl -e 1 turns it on'
    : 'no kernel audit socket: Landlock denials are not reported as events'
  checks.push(check('kernel audit', auditOn, false, auditDetail, auditImpact))

  const apparmorDetail = `${report.apparmor.enabled ? 'enabled' : 'not enabled'}, apparmor_parser ${report.apparmor.parser ?? 'not found'}`
  checks.push(check('AppArmor', report.apparmor.enabled, false, apparmorDetail,
    report.apparmor.parser === null
      ? 'AppArmor is not active and apparmor_parser is missing: exported AppArmor profiles can be neither loaded nor checked here'
      : 'AppArmor is not active: exported AppArmor profiles can be checked with apparmor_parser -Q -K but not loaded'))

  const missingCaps = report.missingCapabilities
  checks.push(check('bounding set', missingCaps.length === 0, false,
    missingCaps.length === 0 ? 'every capability' : `missing ${missingCaps.join(', ')}`,
    `the supervisor lacks ${missingCaps.join(', ')}: profiles that grant ${missingCaps.length === 1 ? 'it' : 'them'} start without ${missingCaps.length === 1 ? 'it' : 'them'}, with a warning`))

  checks.push(check('bwrap', report.tools.bwrap !== null, false, report.tools.bwrap ?? 'not found',
    'bwrap not found: bench/launch skips its bubblewrap comparison; sandboxes do not need it'))
  checks.push(check('nft', report.tools.nft !== null, false, report.tools.nft ?? 'not found',
    'nft not found: this version of Blackhole does not call it; install nftables to inspect host firewall rules'))
  checks.push(check('ip', report.tools.ip !== null, false, report.tools.ip ?? 'not found',
    'ip not found: this version of Blackhole does not call it; install iproute2 to inspect sandbox links'))
  return checks
}

/** Returns 0 when the host can run sandboxes, 1 when a required piece is missing. */
export function doctorStatus(report: HostFactsReport): 0 | 1 {
  return doctorChecks(report).some((c) => c.required && !c.ok) ? 1 : 0
}

/**
 * Formats the report: one line per check (`ok`, `warn` or `FAIL` for a
 * required piece), an indented line with the impact of each missing one,
 * and a closing verdict.
 */
export function formatDoctor(report: HostFactsReport): string {
  const checks = doctorChecks(report)
  const width = Math.max(...checks.map((c) => c.name.length))
  const lines = [`kernel ${report.kernel}`]
  for (const c of checks) {
    let mark = 'warn'
    if (c.ok) mark = 'ok  '
    else if (c.required) mark = 'FAIL'
    lines.push(`${mark}  ${c.name.padEnd(width)}  ${c.detail}`)
    if (!c.ok) lines.push(`      ${' '.repeat(width)}  ${c.impact}`)
  }
  const failed = checks.filter((c) => c.required && !c.ok).map((c) => c.name)
  lines.push(failed.length === 0
    ? 'This host can run Blackhole sandboxes.'
    : `This host cannot run Blackhole sandboxes: missing ${failed.join(', ')}.`)
  return lines.join('\n')
}
