// Landlock rules of compiled profiles, checked with the real launcher:
// denied_paths and allowed_ports from YAML, compiled by the policy package,
// probed by python3 inside the sandbox.
//
// The files live in a folder under /var/lib because the sandbox gets a
// private /tmp; the read-only root shows /var/lib at the same path.

import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { capabilityName, compileLandlock, compileLaunch, parseConfig, resolveIdentity } from '@blackhole/policy'
import type { FilesystemView, Profile, ServiceDefinition } from '@blackhole/policy'
import { SeccompNotifier, closeFd, hostFacts, pidfdSendSignal, spawnSandbox, watchExit } from '@blackhole/native'
import type { ExitStatus } from '@blackhole/native'

const PYTHON = '/usr/bin/python3'
const ALLOWED_PORT = 50021
const OTHER_PORT = 50022

// Prints one JSON object: 'ok' or the errno name of each attempt.
const PROBE = String.raw`
import errno, json, socket, sys
work = sys.argv[1]
allowed_port, other_port = int(sys.argv[2]), int(sys.argv[3])
result = {}
def attempt(name, action):
    try:
        action()
        result[name] = 'ok'
    except OSError as error:
        result[name] = errno.errorcode[error.errno]
def read(path):
    with open(path) as file:
        file.read()
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
def listen(port):
    listener.bind(('127.0.0.1', port))
    listener.listen(1)
def bind(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(('127.0.0.1', port))
    finally:
        sock.close()
def connect(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.connect(('127.0.0.1', port))
    finally:
        sock.close()
attempt('readPublic', lambda: read(work + '/public/file'))
attempt('readSecret', lambda: read(work + '/secret/file'))
attempt('listSecret', lambda: __import__('os').listdir(work + '/secret'))
attempt('listenAllowed', lambda: listen(allowed_port))
attempt('connectAllowed', lambda: connect(allowed_port))
attempt('bindOther', lambda: bind(other_port))
attempt('connectOther', lambda: connect(other_port))
print(json.dumps(result))
`

const SERVICE: ServiceDefinition = {
  name: 'landlock',
  profile: 'landlock',
  command: PYTHON,
  args: [],
  workingDirectory: '/',
  environment: {},
  restart: 'no',
  persistentPaths: [],
  autostart: false,
}

let work = ''

beforeAll(() => {
  work = mkdtempSync('/var/lib/blackhole-landlock-')
  chmodSync(work, 0o755)
  for (const dir of ['public', 'secret']) {
    mkdirSync(join(work, dir), { mode: 0o755 })
    writeFileSync(join(work, dir, 'file'), `${dir}\n`, { mode: 0o644 })
  }
})

afterAll(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true })
})

function profileFromYaml(yaml: string): Profile {
  const parsed = parseConfig(`security_profiles:\n  landlock:\n${yaml.replace(/^/gm, '    ')}\n`, 'enforcement-test.yaml')
  if (!parsed.ok) throw new Error(parsed.errors.map((e) => `${e.line}:${e.col} ${e.path}: ${e.message}`).join('\n'))
  const profile = parsed.config.profiles.landlock
  if (profile === undefined) throw new Error('the test config has no landlock profile')
  return profile
}

function boundingCapNames(): string[] {
  const mask = BigInt(`0x${hostFacts().boundingSet}`)
  const names: string[] = []
  for (let cap = 0; cap < 64; cap++) {
    const name = capabilityName(cap)
    if ((mask >> BigInt(cap)) & 1n && name !== null) names.push(name)
  }
  return names
}

interface Probe {
  readPublic: string
  readSecret: string
  listSecret: string
  listenAllowed: string
  connectAllowed: string
  bindOther: string
  connectOther: string
}

async function probe(profile: Profile): Promise<{ exit: ExitStatus; stderr: string; result: Probe }> {
  const identity = resolveIdentity(profile, 'landlock', readFileSync('/etc/passwd', 'utf8'), readFileSync('/etc/group', 'utf8'))
  const { spec, notifyActions } = compileLaunch({
    profile,
    service: SERVICE,
    name: 'landlock',
    argv: [PYTHON, '-c', PROBE, work, String(ALLOWED_PORT), String(OTHER_PORT)],
    identity,
    host: { arch: 'x86_64', landlockAbi: hostFacts().landlockAbi, boundingCaps: boundingCapNames(), cgroupProcs: [] },
    stdio: [-1, -1, -1],
    listenFds: [],
    persistentSources: {},
    env: {},
  })
  const stdoutPath = join(work, 'stdout')
  const stderrPath = join(work, 'stderr')
  const stdoutFd = openSync(stdoutPath, 'w+')
  const stderrFd = openSync(stderrPath, 'w+')
  try {
    const child = spawnSandbox({ ...spec, stdio: [-1, stdoutFd, stderrFd] })
    // The filter notifies bind and connect, so someone must respond for the probe to go on.
    const notifier = child.notifyFd === null ? null : new SeccompNotifier(child.notifyFd, {
      actions: Object.fromEntries(
        Object.entries(notifyActions).map(([nr, action]) => [nr, action.action === 'errno' ? { action: 'errno', errno: action.errno } : { action: 'continue' }]),
      ),
      defaultAction: { action: 'errno', errno: 1 },
      maxQueue: 1000,
      batchMs: 10,
      onBatch: () => undefined,
    })
    try {
      const exited = new Promise<ExitStatus>((resolve) => watchExit(child.pidfd, resolve))
      const timer = setTimeout(() => pidfdSendSignal(child.pidfd, 'SIGKILL'), 20_000)
      const exit = await exited
      clearTimeout(timer)
      const stdout = readFileSync(stdoutPath, 'utf8')
      return { exit, stderr: readFileSync(stderrPath, 'utf8'), result: JSON.parse(stdout === '' ? '{}' : stdout) as Probe }
    } finally {
      notifier?.close()
      closeFd(child.pidfd)
    }
  } finally {
    closeSync(stdoutFd)
    closeSync(stderrFd)
  }
}

describe('denied_paths and allowed_ports in enforce mode', () => {
  let run: Awaited<ReturnType<typeof probe>>

  beforeAll(async () => {
    const profile = profileFromYaml(
      `enforce_mode: enforce\nfilesystem:\n  denied_paths:\n    - ${work}/secret\n` +
        `network:\n  mode: none\n  allow_localhost: true\n  allowed_ports:\n    - ${ALLOWED_PORT}\n`,
    )
    run = await probe(profile)
  })

  it('runs the probe to the end', () => {
    expect(run.stderr).toBe('')
    expect(run.exit.code).toBe(0)
  })

  it('reads a path next to the denied one', () => {
    expect(run.result.readPublic).toBe('ok')
  })

  it('returns EACCES beneath a denied path', () => {
    expect(run.result.readSecret).toBe('EACCES')
    expect(run.result.listSecret).toBe('EACCES')
  })

  it('binds and connects to an allowed port', () => {
    expect(run.result.listenAllowed).toBe('ok')
    expect(run.result.connectAllowed).toBe('ok')
  })

  it('returns EACCES for another port', () => {
    expect(run.result.bindOther).toBe('EACCES')
    expect(run.result.connectOther).toBe('EACCES')
  })
})

describe('the same probe in disabled mode', () => {
  let run: Awaited<ReturnType<typeof probe>>

  beforeAll(async () => {
    const profile = profileFromYaml(
      `enforce_mode: disabled\nfilesystem:\n  denied_paths:\n    - ${work}/secret\n` +
        `network:\n  mode: none\n  allow_localhost: true\n  allowed_ports:\n    - ${ALLOWED_PORT}\n`,
    )
    run = await probe(profile)
  })

  // Without Landlock the kernel allows these, so the EACCES results above come from Landlock.
  it('applies no Landlock rules', () => {
    expect(run.exit.code).toBe(0)
    expect(run.result.readSecret).toBe('ok')
    expect(run.result.bindOther).toBe('ok')
    expect(run.result.connectOther).toBe('ECONNREFUSED')
  })
})

describe('denied path next to a link into /run', () => {
  // /var/lock links to /run/lock on Debian, which the sandbox's private /run lacks.
  const view: FilesystemView = {
    kind: (path) => (path === '/var/lock' || path === '/run/lock' ? 'dir' : path.endsWith('file') ? 'file' : 'dir'),
    list: (path) => ({ '/': ['run', 'usr', 'var'], '/var': ['lib', 'lock'], '/var/lib': ['secret', 'other'] })[path] ?? [],
    realpath: (path) => (path === '/var/lock' ? '/run/lock' : path),
  }

  it('gets no rule for the link', () => {
    const profile = profileFromYaml('enforce_mode: enforce\nfilesystem:\n  denied_paths:\n    - /var/lib/secret\n')
    const paths = compileLandlock(profile, 7, view).spec?.pathRules.map((rule) => rule.path) ?? []
    expect(paths).not.toContain('/var/lock')
    expect(paths).toContain('/run')
    expect(paths).toContain('/var/lib/other')
    expect(paths).not.toContain('/var/lib/secret')
  })
})
