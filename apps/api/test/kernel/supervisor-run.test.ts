// runInSandbox (`blackhole run`) with real sandboxes: exit statuses,
// launch failures, printed denials and the temporary cgroup.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, rmdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { parseConfig, type Config } from '@blackhole/policy'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { detectLayout } from '../../src/sandbox/cgroups.js'
import { runInSandbox } from '../../src/sandbox/run.js'
import type { AuditInput } from '../../src/types.js'

const cgroupParent = `blackhole-run-test-${process.pid}`
const layout = detectLayout()

const YAML = `
security_profiles:
  plain:
    resource_limits:
      max_processes: 16
  permissive:
    enforce_mode: permissive
`

let config: Config
let dataDir: string
let events: AuditInput[]
let stderr: PassThrough
let stderrText: string

function hierarchies(): string[] {
  return [...new Set([...Object.values(layout.v1), ...(layout.unified === null ? [] : [layout.unified])])]
}

function run(profileName: string, argv: string[], killGraceMs?: number): Promise<number> {
  return runInSandbox({
    config, configPath: join(tmpdir(), 'run-test.yaml'), profileName, argv, dataDir, cgroupParent, stderr,
    ...(killGraceMs === undefined ? {} : { killGraceMs }),
    record: async (input) => {
      events.push(input)
    },
  })
}

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('the kernel tests need root')
  const parsed = parseConfig(YAML, join(tmpdir(), 'run-test.yaml'))
  if (!parsed.ok) throw new Error(`test config invalid: ${JSON.stringify(parsed.errors)}`)
  config = parsed.config
  dataDir = mkdtempSync(join(tmpdir(), 'run-test-'))
})

beforeEach(() => {
  events = []
  stderrText = ''
  stderr = new PassThrough()
  stderr.on('data', (chunk: Buffer) => {
    stderrText += chunk.toString()
  })
})

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true })
  for (const mount of hierarchies()) {
    const dir = join(mount, cgroupParent)
    if (existsSync(dir)) rmdirSync(dir)
  }
})

describe('runInSandbox', () => {
  it('resolves with the exit code', async () => {
    expect(await run('plain', ['sh', '-c', 'exit 7'])).toBe(7)
    expect(await run('plain', ['true'])).toBe(0)
  })

  it('maps a signal to 128 plus its number', async () => {
    // PID 1 of a namespace cannot SIGKILL itself, so the test kills it from outside once it started.
    const status = runInSandbox({
      config, configPath: join(tmpdir(), 'run-test.yaml'), profileName: 'plain', argv: ['sleep', '30'], dataDir, cgroupParent, stderr,
      record: async (input) => {
        if (input.type === 'SERVICE_STARTED') process.kill(input.pid!, 'SIGKILL')
      },
    })
    expect(await status).toBe(137)
  })

  async function waitForPids(count: number): Promise<void> {
    const pidsFile = join(layout.v1.pids ?? '', cgroupParent, `run-plain-${process.pid}`, 'pids.current')
    const deadline = Date.now() + 5000
    while (!(existsSync(pidsFile) && readFileSync(pidsFile, 'utf8').trim() === String(count)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  it('forwards SIGHUP to the command', async () => {
    const status = run('plain', ['sh', '-c', 'trap "exit 9" HUP; echo ready; sleep 30 & wait'])
    // The trap is set once the shell's sleep child is in the cgroup next to it.
    const pidsFile = join(layout.v1.pids ?? '', cgroupParent, `run-plain-${process.pid}`, 'pids.current')
    const deadline = Date.now() + 5000
    while (!(existsSync(pidsFile) && readFileSync(pidsFile, 'utf8').trim() === '2') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    process.emit('SIGHUP')
    expect(await status).toBe(9)
  })

  it('kills a command that ignores SIGTERM', async () => {
    // As PID 1 of its namespace, sleep has no handler, so the kernel drops SIGTERM.
    const status = run('plain', ['sleep', '30'], 300)
    await waitForPids(1)
    const started = Date.now()
    process.emit('SIGTERM')
    expect(await status).toBe(137)
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('kills at the second SIGINT', async () => {
    const status = run('plain', ['sleep', '30'], 60_000)
    await waitForPids(1)
    process.emit('SIGINT')
    process.emit('SIGINT')
    expect(await status).toBe(137)
  })

  it('records start and exit', async () => {
    await run('plain', ['sh', '-c', 'exit 5'])
    const started = events.find((e) => e.type === 'SERVICE_STARTED')
    const exited = events.find((e) => e.type === 'SERVICE_EXITED')
    expect(started?.service).toBe('plain')
    expect(started?.actor).toBe('cli')
    expect(exited?.metadata?.exitCode).toBe(5)
  })

  it('removes its temporary cgroup', async () => {
    await run('plain', ['true'])
    for (const mount of hierarchies()) {
      const dir = join(mount, cgroupParent)
      const leftovers = existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()) : []
      expect(leftovers.map((e) => e.name)).toEqual([])
    }
  })

  it('throws a LaunchError for a missing command', async () => {
    await expect(run('plain', ['blackhole-no-such-command'])).rejects.toMatchObject({
      name: 'LaunchError',
      step: 'resolve command',
      code: 'ENOENT',
    })
  })

  it('rejects an unknown profile', async () => {
    await expect(run('nope', ['true'])).rejects.toThrow(/profile "nope" not found; known profiles: plain, permissive/)
  })

  it('prints a denial and returns the errno', async () => {
    const status = await run('plain', ['sh', '-c', 'unshare -U true; echo $? > /dev/null; exit 0'])
    expect(status).toBe(0)
    expect(stderrText).toMatch(/^blackhole: access_denied: unshare denied with EPERM/m)
    const denied = events.find((e) => e.type === 'ACCESS_DENIED')
    expect(denied?.metadata?.syscall).toBe('unshare')
  })

  it('lets a denied call through in permissive mode', async () => {
    const status = await run('permissive', ['sh', '-c', 'unshare -U true'])
    expect(stderrText).toMatch(/^blackhole: syscall_violation: unshare would be denied in enforce mode/m)
    expect(status).toBe(0)
  })
})
