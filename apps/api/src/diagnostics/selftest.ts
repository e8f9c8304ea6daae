// `blackhole selftest --profile NAME`: runs escape attempts inside that
// profile's sandbox on this host and reports each as held or not held.
//
// Each probe is a short python3 program run with runInSandbox, the code
// path of `blackhole run`. runInSandbox gives the sandbox the caller's own
// stdio, so a probe silences its output and reports through its exit
// status instead:
//   0        held
//   1        not held: the attempt succeeded
//   3        skipped: this host or profile cannot show the case
//   4        timed out, reported as not held
//   10 + N   held, the attempt failed with errno N (N < 118)
//   128 + S  the probe was killed by signal S
// Probes that python3 cannot run fall back to sh where a shell can express
// them, and are skipped otherwise.

import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { constants } from 'node:os'
import { Writable } from 'node:stream'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { capabilityNumber, type Config, type Profile } from '@blackhole/policy'
import { hostFacts } from '@blackhole/native'
import { ServiceCgroup } from '../sandbox/cgroups.js'
import { profileOf } from '../sandbox/launch.js'
import { runInSandbox } from '../sandbox/run.js'
import type { AuditInput } from '../types.js'

export type ProbeCategory = 'privilege' | 'filesystem' | 'network' | 'resources' | 'environment'
export type ProbeStatus = 'held' | 'not held' | 'skipped'

export interface ProbeResult {
  category: ProbeCategory
  name: string
  status: ProbeStatus
  detail: string
  /** Seccomp denials the supervisor reported while the probe ran. */
  denials: number
}

export interface SelftestReport {
  profile: string
  /** Interpreter the probes ran with: python3, or sh when python3 is missing. */
  interpreter: 'python3' | 'sh'
  results: ProbeResult[]
}

export interface SelftestOptions {
  config: Config
  profileName: string
  /** Path of the config file, recorded in the probes' start events; default `selftest.yaml`. */
  configPath?: string
  /** python3 to run the probes with; default /usr/bin/python3, and sh when it is missing. */
  python?: string
  /** Seconds each probe may run before it reports a timeout; default 30. */
  timeoutSeconds?: number
}

/** Host-side fixtures the probes look for from inside the sandbox. */
interface ProbeContext {
  profile: Profile
  work: string
  setuidBinary: string
  hostTmpFile: string
  hostRunSocket: string
  loopbackPort: number
  /** The capability sets the sandbox may hold, as a hex mask. */
  allowedCaps: string
  cgroupFiles: string[]
  secretName: string
  secretValue: string
}

interface ProbeDefinition {
  category: ProbeCategory
  name: string
  /** Python statements run after the prelude; sys.argv[1:] contains args(). */
  python: string
  /** The same check in sh, run with `sh -c SCRIPT sh ARGS...`, when a shell can express it. */
  sh?: string
  args?: (context: ProbeContext) => string[]
  /** Detail for a held probe that reports no errno. */
  heldDetail: string
  /** Detail when the attempt succeeded. */
  escapeDetail: string
  /** Environment set in the supervisor while this probe launches. */
  env?: (context: ProbeContext) => Record<string, string>
  /** Reason the probe does not apply to this profile; null when it does. */
  skip?: (context: ProbeContext) => string | null
  /** Reads a signal death as held (the memory probe expects SIGKILL from the OOM killer). */
  heldBySignal?: string
}

// The handler matters: as PID 1 of its namespace the probe ignores signals it has none for.
const prelude = (timeoutSeconds: number): string => String.raw`
import errno, os, signal, socket, sys
def _timeout(*_):
    os._exit(4)
signal.signal(signal.SIGALRM, _timeout)
signal.alarm(${timeoutSeconds})
_null = os.open('/dev/null', os.O_WRONLY)
os.dup2(_null, 1)
os.dup2(_null, 2)
def held(error=None):
    if isinstance(error, OSError) and error.errno is not None and 0 < error.errno < 118:
        os._exit(10 + error.errno)
    os._exit(0)
def escaped():
    os._exit(1)
def skip():
    os._exit(3)
def attempt(action):
    try:
        action()
    except OSError as error:
        held(error)
    escaped()
`

// sh has no alarm, so a shell probe runs without the timeout.
const SH_PRELUDE = 'exec >/dev/null 2>&1\n'

const CAP_FIELDS = "('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb')"

// Control files a sandbox must not open for writing.
const CGROUP_CONTROL_FILES = [
  'cgroup.procs', 'tasks', 'cgroup.subtree_control', 'pids.max', 'memory.max', 'memory.limit_in_bytes',
  'memory.memsw.limit_in_bytes', 'cpu.max', 'cpu.cfs_quota_us', 'freezer.state', 'cgroup.freeze', 'cgroup.kill',
]

const PROBES: ProbeDefinition[] = [
  {
    category: 'privilege',
    name: 'not running as root',
    python: 'escaped() if 0 in (os.getuid(), os.geteuid(), os.getgid(), os.getegid()) else held()',
    sh: '[ "$(id -u)" != 0 ] && [ "$(id -g)" != 0 ] || exit 1',
    heldDetail: 'uid and gid are not 0',
    escapeDetail: 'the sandbox runs with uid or gid 0',
  },
  {
    category: 'privilege',
    name: 'setuid(0)',
    python: 'attempt(lambda: os.setuid(0))',
    heldDetail: 'setuid(0) failed',
    escapeDetail: 'setuid(0) succeeded',
  },
  {
    category: 'privilege',
    name: 'capabilities within the profile',
    python: String.raw`
allowed = int(sys.argv[1], 16)
status = dict(line.split(':', 1) for line in open('/proc/self/status').read().splitlines() if ':' in line)
extra = [field for field in ${CAP_FIELDS} if int(status[field].strip(), 16) & ~allowed]
escaped() if extra else held()
`,
    args: (context) => [context.allowedCaps],
    heldDetail: 'no capability set holds more than the profile grants',
    escapeDetail: 'a capability set holds capabilities the profile does not grant',
  },
  {
    category: 'privilege',
    name: 'no_new_privs set',
    python: String.raw`
for line in open('/proc/self/status'):
    if line.startswith('NoNewPrivs:'):
        held() if line.split()[1] == '1' else escaped()
skip()
`,
    sh: 'grep -q "^NoNewPrivs:[[:space:]]*1" /proc/self/status || exit 1',
    heldDetail: 'NoNewPrivs is 1',
    escapeDetail: 'NoNewPrivs is 0, so setuid programs can raise privileges',
  },
  {
    category: 'privilege',
    name: 'setuid binary does not elevate',
    python: String.raw`
import subprocess
if not os.path.exists(sys.argv[1]):
    skip()
run = subprocess.run([sys.argv[1], '-u'], capture_output=True, text=True)
if run.returncode != 0:
    held()
escaped() if int(run.stdout.strip()) != os.geteuid() else held()
`,
    sh: '[ -x "$1" ] || exit 3; [ "$("$1" -u)" = "$(id -u)" ] || exit 1',
    args: (context) => [context.setuidBinary],
    heldDetail: 'a setuid-root copy of id ran with the sandbox uid',
    escapeDetail: 'a setuid-root copy of id ran with another effective uid',
  },
  ...['/etc', '/usr', '/'].map((dir): ProbeDefinition => ({
    category: 'filesystem',
    name: `write to ${dir}`,
    python: String.raw`
path = os.path.join(sys.argv[1], '.blackhole-selftest-' + os.urandom(6).hex())
try:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
except OSError as error:
    held(error)
os.close(fd)
os.unlink(path)
escaped()
`,
    // A failed redirection on a special builtin such as `:` ends a POSIX shell, so touch creates the file.
    sh: 'f="$1/.blackhole-selftest-$$"; if touch "$f"; then rm -f "$f"; exit 1; fi',
    args: () => [dir],
    heldDetail: `creating a file in ${dir} failed`,
    escapeDetail: `created a file in ${dir}`,
  })),
  {
    category: 'filesystem',
    name: 'read /root',
    python: "if not os.path.isdir('/root'):\n    skip()\nattempt(lambda: os.listdir('/root'))",
    sh: '[ -d /root ] || exit 3; ls /root && exit 1; exit 0',
    heldDetail: 'listing /root failed',
    escapeDetail: 'listed /root',
  },
  {
    category: 'filesystem',
    name: 'read /etc/shadow',
    python: "if not os.path.exists('/etc/shadow'):\n    skip()\nattempt(lambda: open('/etc/shadow').read(1))",
    sh: '[ -e /etc/shadow ] || exit 3; cat /etc/shadow && exit 1; exit 0',
    heldDetail: 'reading /etc/shadow failed',
    escapeDetail: 'read /etc/shadow',
  },
  {
    category: 'filesystem',
    name: 'reach the host /tmp',
    python: 'attempt(lambda: os.stat(sys.argv[1]))',
    sh: '[ -e "$1" ] && exit 1; exit 0',
    args: (context) => [context.hostTmpFile],
    heldDetail: 'a file in the host /tmp is not visible',
    escapeDetail: 'a file the selftest put in the host /tmp is visible',
  },
  {
    category: 'filesystem',
    name: 'reach a host /run socket',
    python: 'attempt(lambda: os.stat(sys.argv[1]))',
    sh: '[ -e "$1" ] && exit 1; exit 0',
    args: (context) => [context.hostRunSocket],
    heldDetail: 'a socket in the host /run is not visible',
    escapeDetail: 'a socket the selftest listens on in the host /run is visible',
  },
  {
    category: 'filesystem',
    name: 'write cgroup control files',
    python: String.raw`
names = set(sys.argv[2].split(','))
candidates = [path for path in sys.argv[3:]]
for root, dirs, files in os.walk('/sys/fs/cgroup'):
    if root.count('/') > 7:
        dirs[:] = []
    candidates.extend(os.path.join(root, name) for name in files if name in names)
    if len(candidates) > int(sys.argv[1]):
        break
for path in candidates:
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError:
        continue
    os.close(fd)
    escaped()
held()
`,
    // Opening for writing changes nothing; only a write would.
    args: (context) => ['4000', CGROUP_CONTROL_FILES.join(','), ...context.cgroupFiles],
    heldDetail: 'no cgroup control file opens for writing',
    escapeDetail: 'a cgroup control file opens for writing',
  },
  {
    category: 'network',
    name: 'no interfaces besides lo',
    python: String.raw`
names = [line.split(':')[0].strip() for line in open('/proc/net/dev').read().splitlines()[2:]]
escaped() if [name for name in names if name and name != 'lo'] else held()
`,
    sh: 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | grep -qv "^lo$" && exit 1; exit 0',
    heldDetail: 'the sandbox sees only lo',
    escapeDetail: 'the sandbox sees network interfaces besides lo',
  },
  {
    category: 'network',
    name: 'connect to a host loopback listener',
    python: String.raw`
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.settimeout(5)
attempt(lambda: sock.connect(('127.0.0.1', int(sys.argv[1]))))
`,
    args: (context) => [String(context.loopbackPort)],
    heldDetail: 'the connection failed',
    escapeDetail: 'connected to a listener on the host loopback',
  },
  {
    category: 'network',
    name: 'open raw sockets',
    python: String.raw`
last = None
for family, kind, protocol in ((socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP), (socket.AF_PACKET, socket.SOCK_RAW, 0)):
    try:
        socket.socket(family, kind, protocol).close()
    except OSError as error:
        last = error
        continue
    escaped()
held(last)
`,
    heldDetail: 'raw and packet sockets failed',
    escapeDetail: 'opened a raw or packet socket',
  },
  {
    category: 'resources',
    name: 'fork past max_processes',
    python: String.raw`
limit = int(sys.argv[1])
children = []
failure = None
while len(children) < limit + 16:
    try:
        pid = os.fork()
    except OSError as error:
        failure = error
        break
    if pid == 0:
        signal.alarm(0)
        signal.pause()
        os._exit(0)
    children.append(pid)
for pid in children:
    os.kill(pid, signal.SIGKILL)
for pid in children:
    os.waitpid(pid, 0)
escaped() if failure is None else held(failure)
`,
    args: (context) => [String(context.profile.resourceLimits.maxProcesses)],
    heldDetail: 'fork failed at the limit',
    escapeDetail: 'forked 16 processes more than max_processes',
  },
  {
    category: 'resources',
    name: 'allocate past max_memory',
    python: String.raw`
import mmap
size = int(sys.argv[1]) + (64 << 20)
try:
    region = mmap.mmap(-1, size)
except OSError as error:
    held(error)
for offset in range(0, size, 4096):
    region[offset] = 1
escaped()
`,
    args: (context) => [String(context.profile.resourceLimits.maxMemory ?? 0)],
    skip: (context) => (context.profile.resourceLimits.maxMemory === null ? 'the profile sets no max_memory' : null),
    heldBySignal: 'SIGKILL',
    heldDetail: 'the allocation failed',
    escapeDetail: 'allocated and touched 64 MiB more than max_memory',
  },
  {
    category: 'environment',
    name: 'LD_PRELOAD does not reach the sandbox',
    python: "escaped() if 'LD_PRELOAD' in os.environ else held()",
    sh: '[ -n "${LD_PRELOAD+set}" ] && exit 1; exit 0',
    env: () => ({ LD_PRELOAD: '/nonexistent/blackhole-selftest.so' }),
    heldDetail: 'LD_PRELOAD is not set inside',
    escapeDetail: 'LD_PRELOAD from the supervisor is set inside',
  },
  {
    category: 'environment',
    name: 'a secret variable does not reach the sandbox',
    python: String.raw`
leaked = sys.argv[1] in os.environ or any(sys.argv[2] in value for value in os.environ.values())
escaped() if leaked else held()
`,
    sh: 'env | grep -q -e "^$1=" -e "$2" && exit 1; exit 0',
    // argv gets the name and a prefix of the random value, enough to find it in any variable.
    args: (context) => [context.secretName, context.secretValue.slice(0, 16)],
    env: (context) => ({ [context.secretName]: context.secretValue }),
    heldDetail: 'the variable is not set inside',
    escapeDetail: 'a variable set in the supervisor is visible inside',
  },
]

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, number]) => [number, name]))
// The first name wins where two share a number, so 11 reads EAGAIN, not EWOULDBLOCK.
const ERRNO_NAMES = new Map<number, string>()
for (const [name, number] of Object.entries(constants.errno)) {
  if (!ERRNO_NAMES.has(number)) ERRNO_NAMES.set(number, name)
}

/** Turns a probe's exit status into a result, following the table at the top of this file. */
export function interpretStatus(probe: Pick<ProbeDefinition, 'heldDetail' | 'escapeDetail' | 'heldBySignal'>, status: number): { status: ProbeStatus; detail: string } {
  if (status === 0) return { status: 'held', detail: probe.heldDetail }
  if (status === 1) return { status: 'not held', detail: probe.escapeDetail }
  if (status === 3) return { status: 'skipped', detail: 'this host cannot show the case' }
  if (status === 4) return { status: 'not held', detail: 'the probe timed out, so the result is unknown' }
  if (status > 10 && status < 128) {
    const errno = status - 10
    return { status: 'held', detail: `${probe.heldDetail}: ${ERRNO_NAMES.get(errno) ?? `errno ${errno}`}` }
  }
  if (status > 128) {
    const signal = SIGNAL_NAMES.get(status - 128) ?? `signal ${status - 128}`
    if (signal === probe.heldBySignal) return { status: 'held', detail: `killed by ${signal} at the limit` }
    return { status: 'not held', detail: `the probe was killed by ${signal}, so the result is unknown` }
  }
  return { status: 'not held', detail: `the probe ended with unexpected status ${status}` }
}

/** Returns the capability mask the sandbox may hold: the profile's capabilities the supervisor can grant. */
function allowedCapabilityMask(profile: Profile): string {
  const bounding = BigInt(`0x${hostFacts().boundingSet || '0'}`)
  let mask = 0n
  for (const name of profile.capabilities) {
    const number = capabilityNumber(name)
    if (number !== null && (bounding >> BigInt(number)) & 1n) mask |= 1n << BigInt(number)
  }
  return mask.toString(16)
}

function listen(server: Server, target: string | number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    if (typeof target === 'number') server.listen(target, '127.0.0.1', () => resolve())
    else server.listen(target, () => resolve())
  })
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

/**
 * Runs every probe in the profile's sandbox, one sandbox per probe, and
 * returns their results. Fixtures on the host (a file in /tmp, a socket in
 * /run, a loopback listener, a setuid-root copy of id in a folder under
 * /var/lib) are removed before it returns. A launch failure rejects with the
 * LaunchError of runInSandbox.
 */
export async function runSelftest(options: SelftestOptions): Promise<SelftestReport> {
  const profile = profileOf(options.config, options.profileName)
  if (process.getuid?.() !== 0) {
    throw new Error('blackhole selftest must run as root: the launcher creates namespaces and cgroups, and the fixtures include a setuid-root file')
  }
  const python = options.python ?? '/usr/bin/python3'
  const interpreter = existsSync(python) ? 'python3' : 'sh'
  const tag = randomBytes(6).toString('hex')
  // /var/lib, unlike /tmp and /run, shows through the sandbox's read-only root.
  const work = mkdtempSync('/var/lib/blackhole-selftest-')
  const hostTmpFile = `/tmp/blackhole-selftest-${tag}`
  const hostRunSocket = `/run/blackhole-selftest-${tag}.sock`
  const loopback = createServer()
  const runSocket = createServer()
  let loopbackConnections = 0
  loopback.on('connection', (socket) => {
    loopbackConnections++
    socket.destroy()
  })
  runSocket.on('connection', (socket) => socket.destroy())

  try {
    chmodSync(work, 0o755)
    const setuidBinary = join(work, 'id-setuid-root')
    copyFileSync('/usr/bin/id', setuidBinary)
    chownSync(setuidBinary, 0, 0)
    chmodSync(setuidBinary, 0o4755)
    writeFileSync(hostTmpFile, 'blackhole selftest marker\n', { mode: 0o644 })
    await listen(loopback, 0)
    await listen(runSocket, hostRunSocket)
    const address = loopback.address()
    const context: ProbeContext = {
      profile,
      work,
      setuidBinary,
      hostTmpFile,
      hostRunSocket,
      loopbackPort: typeof address === 'object' && address !== null ? address.port : 0,
      allowedCaps: allowedCapabilityMask(profile),
      // The leaf runInSandbox creates for this process, as seen on the host.
      cgroupFiles: new ServiceCgroup(`run-${options.profileName}-${process.pid}`).dirs().flatMap((dir) => CGROUP_CONTROL_FILES.map((name) => join(dir, name))),
      secretName: `BLACKHOLE_SELFTEST_SECRET_${tag.toUpperCase()}`,
      secretValue: randomBytes(24).toString('hex'),
    }
    const results: ProbeResult[] = []
    for (const probe of PROBES) {
      const result = await runProbe(probe, context, options, python, interpreter === 'python3')
      if (probe.name === 'connect to a host loopback listener' && loopbackConnections > 0) {
        result.status = 'not held'
        result.detail = `the host listener accepted ${loopbackConnections} connection(s) from the sandbox`
      }
      results.push(result)
    }
    return { profile: options.profileName, interpreter, results }
  } finally {
    await close(loopback)
    await close(runSocket)
    rmSync(hostTmpFile, { force: true })
    rmSync(hostRunSocket, { force: true })
    rmSync(work, { recursive: true, force: true })
  }
}

async function runProbe(
  probe: ProbeDefinition, context: ProbeContext, options: SelftestOptions, python: string, hasPython: boolean,
): Promise<ProbeResult> {
  const base = { category: probe.category, name: probe.name, denials: 0 }
  const skipReason = probe.skip?.(context) ?? null
  if (skipReason !== null) return { ...base, status: 'skipped', detail: skipReason }
  const args = probe.args?.(context) ?? []
  let argv: string[]
  const timeoutSeconds = options.timeoutSeconds ?? 30
  if (hasPython) argv = [python, '-c', prelude(timeoutSeconds) + probe.python, ...args]
  else if (probe.sh !== undefined) argv = ['/bin/sh', '-c', SH_PRELUDE + probe.sh, 'sh', ...args]
  else return { ...base, status: 'skipped', detail: `needs python3, which is missing at ${python}` }

  const env = probe.env?.(context) ?? {}
  const saved = new Map(Object.keys(env).map((name) => [name, process.env[name]]))
  let denials = 0
  const record = async (input: AuditInput): Promise<void> => {
    if (input.type === 'ACCESS_DENIED') denials++
  }
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() })
  try {
    Object.assign(process.env, env)
    const status = await runInSandbox({
      config: options.config,
      configPath: options.configPath ?? 'selftest.yaml',
      profileName: options.profileName,
      argv,
      dataDir: join(context.work, 'data'),
      record,
      stderr: sink,
    })
    return { ...base, ...interpretStatus(probe, status), denials }
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
}

/** Returns 1 when any probe is not held, else 0. */
export function selftestStatus(report: SelftestReport): 0 | 1 {
  return report.results.some((result) => result.status === 'not held') ? 1 : 0
}

/** Formats one line per probe (`HELD`, `NOT HELD` or `SKIP`, category, name, detail) and a summary. */
export function formatSelftest(report: SelftestReport): string {
  const nameWidth = Math.max(...report.results.map((result) => result.name.length))
  const lines = report.results.map((result) => {
    const mark = { held: 'HELD', 'not held': 'NOT HELD', skipped: 'SKIP' }[result.status]
    const denials = result.denials > 0 ? ` (${result.denials} seccomp denial${result.denials === 1 ? '' : 's'} reported)` : ''
    return `${mark.padEnd(8)}  ${result.category.padEnd(11)}  ${result.name.padEnd(nameWidth)}  ${result.detail}${denials}`
  })
  const count = (status: ProbeStatus) => report.results.filter((result) => result.status === status).length
  lines.push(`profile ${report.profile} (probes in ${report.interpreter}): ${count('held')} held, ${count('not held')} not held, ${count('skipped')} skipped`)
  return lines.join('\n')
}
