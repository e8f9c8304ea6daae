// Learn mode end to end: a real sandboxed service calls a syscall its
// profile denies and binds a port the profile does not allow; the learn
// session runs it permissively, proposes both, and apply stores the
// proposal as a new profile version.

import { existsSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openBlackhole, type Blackhole } from '../../src/server/app.js'
import { detectLayout } from '../../src/sandbox/cgroups.js'
import type { AuditRecord } from '../../src/types.js'
import type { LearnSession } from '../../src/learn/session.js'

const cgroupRoot = `blackhole-learn-test-${process.pid}`
const layout = detectLayout()
const TOKEN = 'learn-test-admin-token-0123456789abcdef'
const EXTRA_PORT = 47123

// os.uname() is the uname syscall, which the profile denies. The bind to a
// port outside allowed_ports is reported by seccomp and refused by Landlock.
const SERVICE = `
import os, socket, time
for _ in range(5):
    os.uname()
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    sock.bind(('127.0.0.1', ${EXTRA_PORT}))
    sock.listen()
except OSError as error:
    print('bind failed', error.errno, flush=True)
time.sleep(60)
`

const CONFIG = `security_profiles:
  learner:
    enforce_mode: enforce
    syscalls:
      denied: [uname]
    network:
      allow_localhost: true
      allowed_ports: [47001]
    resource_limits:
      max_processes: 32
  keeping:
    syscalls:
      denied: [uname]
    resource_limits:
      max_processes: 32
services:
  learner:
    profile: learner
    command: /usr/bin/python3
    args: ['-c', ${JSON.stringify(SERVICE)}]
    restart: 'no'
    autostart: false
  keeper:
    profile: keeping
    command: /bin/sh
    args: ['-c', 'while true; do uname >/dev/null 2>&1; sleep 0.2; done']
    restart: 'no'
    autostart: false
`

let dir = ''
let blackhole: Blackhole

async function api(method: 'GET' | 'POST', url: string, payload?: object) {
  const response = await blackhole.app.inject({
    method, url, headers: { authorization: `Bearer ${TOKEN}` }, ...(payload === undefined ? {} : { payload }),
  })
  return { status: response.statusCode, body: response.json() as Record<string, unknown> }
}

async function waitFor<T>(read: () => Promise<T | null>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (value !== null) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

function records(type: string): AuditRecord[] {
  return blackhole.audit.query({ type, limit: 100 }).reverse()
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the kernel tests need root')
  dir = mkdtempSync(join(tmpdir(), 'blackhole-learn-kernel-'))
  const configPath = join(dir, 'blackhole.yaml')
  writeFileSync(configPath, CONFIG)
  blackhole = await openBlackhole({
    configPath, dataDir: join(dir, 'data'), adminToken: TOKEN, print: () => undefined, logger: false,
    autostart: false, webRoot: null, graceMs: 300, cgroupRoot, rulesPath: null,
  })
})

afterAll(async () => {
  await blackhole?.close('test')
  rmSync(dir, { recursive: true, force: true })
  for (const mount of new Set([...Object.values(layout.v1), ...(layout.unified ? [layout.unified] : [])])) {
    const cgroup = join(mount, cgroupRoot)
    if (existsSync(cgroup)) rmdirSync(cgroup)
  }
})

describe('learn mode', () => {
  let session: LearnSession

  it('runs the service permissively and proposes', async () => {
    const started = await api('POST', '/api/v1/services/learner/learn', { durationSeconds: 3 })
    expect(started.status).toBe(202)
    expect((started.body.session as LearnSession).state).toBe('running')

    const running = await api('GET', '/api/v1/services/learner/learn')
    expect((running.body.session as LearnSession).state).toBe('running')

    session = await waitFor(async () => {
      const { body } = await api('GET', '/api/v1/services/learner/learn')
      const current = body.session as LearnSession | null
      return current !== null && current.state !== 'running' ? current : null
    }, 'the learn session to end')
    expect(session.error).toBeNull()
    expect(session.state).toBe('completed')
    expect(session.activity?.syscalls.uname).toBeGreaterThanOrEqual(5)
    expect(session.activity?.ports).toContain(EXTRA_PORT)
    expect(session.proposal?.additions.undeniedSyscalls).toEqual(['uname'])
    expect(session.proposal?.additions.allowedPorts).toEqual([EXTRA_PORT])
    expect(session.proposal?.errors).toEqual([])
    expect(session.proposal?.diff).toContain(`+    allowed_ports: [47001, ${EXTRA_PORT}]`)
    expect(session.proposal?.diff).toContain('-    denied: [uname]')
    expect(session.proposal?.yaml).not.toContain('syscalls')
  })

  it('overrides the mode for that run only', async () => {
    const starts = records('SERVICE_STARTED')
    expect(starts).toHaveLength(1)
    expect(starts[0]!.metadata.enforceMode).toBe('permissive')
    expect(starts[0]!.metadata.enforceModeOverridden).toBe(true)
    expect(blackhole.supervisor.get('learner').state).toBe('stopped')
    expect(records('ACCESS_DENIED')).toHaveLength(0)

    const start = await api('POST', '/api/v1/services/learner/start')
    expect(start.status).toBe(200)
    const again = records('SERVICE_STARTED')
    expect(again).toHaveLength(2)
    expect(again[1]!.metadata.enforceMode).toBe('enforce')
    expect(again[1]!.metadata.enforceModeOverridden).toBe(false)
    // Enforce mode fails the first os.uname() with EPERM, which ends the script.
    const denied = await waitFor(async () => records('ACCESS_DENIED')[0] ?? null, 'a uname denial in enforce mode')
    expect(denied.metadata.syscall).toBe('uname')
    if (blackhole.supervisor.get('learner').state === 'running') await blackhole.supervisor.stop('learner', 'test')
  })

  it('stores the proposal as a new version', async () => {
    const applied = await api('POST', '/api/v1/services/learner/learn/apply')
    expect(applied.status).toBe(200)
    expect(applied.body.version).toBe(2)
    expect(applied.body.appliedBy).toBe('token:admin')
    expect(applied.body.sessionId).toBe(session.id)

    const versions = await api('GET', '/api/v1/profiles/learner/versions')
    expect(versions.body.currentVersion).toBe(2)
    const stored = await api('GET', '/api/v1/profiles/learner/versions/2')
    expect(stored.body.yaml).toBe(session.proposal?.yaml)
    expect(stored.body.author).toBe('token:admin')
    expect(blackhole.config.profiles.learner!.network.allowedPorts).toEqual([47001, EXTRA_PORT])
    expect(blackhole.config.profiles.learner!.syscalls.denied).toEqual([])

    const appliedRecords = records('LEARN_APPLIED')
    expect(appliedRecords).toHaveLength(1)
    expect(appliedRecords[0]!.actor).toBe('token:admin')
    const latest = await api('GET', '/api/v1/services/learner/learn')
    expect((latest.body.applied as { version: number }).version).toBe(2)

    const twice = await api('POST', '/api/v1/services/learner/learn/apply')
    expect(twice.status).toBe(409)
    expect(twice.body.error).toBe('LEARN_STALE')
  })

  it('restarts a running service afterwards', async () => {
    await blackhole.supervisor.start('keeper', 'test')
    const pidBefore = blackhole.supervisor.get('keeper').pid
    const started = await api('POST', '/api/v1/services/keeper/learn', { durationSeconds: 2 })
    expect(started.status).toBe(202)
    const finished = await waitFor(async () => {
      const { body } = await api('GET', '/api/v1/services/keeper/learn')
      const current = body.session as LearnSession | null
      return current !== null && current.state !== 'running' ? current : null
    }, 'the keeper session to end')
    expect(finished.state).toBe('completed')
    expect(finished.restarted).toBe(true)
    expect(finished.activity?.syscalls.uname).toBeGreaterThanOrEqual(1)
    const status = blackhole.supervisor.get('keeper')
    expect(status.state).toBe('running')
    expect(status.pid).not.toBe(pidBefore)
    const starts = records('SERVICE_STARTED').filter((record) => record.service === 'keeper')
    expect(starts.map((record) => record.metadata.enforceMode)).toEqual(['enforce', 'permissive', 'enforce'])
    await blackhole.supervisor.stop('keeper', 'test')
  })
})
