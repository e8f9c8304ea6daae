// Launch latency of /bin/true: Blackhole's launcher under the identity
// profile of examples/blackhole.yaml, next to unshare, bubblewrap and a
// plain child_process.spawn, in interleaved rounds so machine noise falls
// on every method alike.
//
// A Blackhole launch here is what the supervisor does per start once the
// profile is compiled. It creates the service cgroup and writes its limits,
// calls spawnSandbox and starts a SeccompNotifier. Then it waits for the
// exit through the pidfd, closes both descriptors and removes the cgroup.
//
// Run as root from the repository root:
//   pnpm exec tsx bench/launch/launch.ts [LAUNCHES]
// LAUNCHES is the number per method, 200 by default.

import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { cpus, freemem, release, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import { compileLaunch, loadConfigFile, resolveIdentity } from '../../packages/policy/src/index.js'
import { SeccompNotifier, closeFd, hostFacts, spawnSandbox, watchExit } from '../../packages/native/lib/index.js'
import type { ExitStatus } from '../../packages/native/lib/index.js'
import { ServiceCgroup } from '../../apps/api/src/sandbox/cgroups.js'
import { boundingCapabilities, createMountPoints } from '../../apps/api/src/sandbox/launch.js'

const CONFIG = fileURLToPath(new URL('../../examples/blackhole.yaml', import.meta.url))
const PROFILE = 'identity'
const TRUE = '/bin/true'
const UNSHARE_ARGS = ['--pid', '--fork', '--mount', '--net', '--ipc', '--uts', TRUE]
const BWRAP_ARGS = ['--unshare-all', '--ro-bind', '/', '/', '--tmpfs', '/tmp', '--proc', '/proc', '--dev', '/dev', TRUE]

type Method = 'blackhole' | 'unshare' | 'bwrap' | 'spawn'

/** Sub-steps of one Blackhole launch, in milliseconds. */
interface Steps {
  cgroupCreate: number
  spawnSandbox: number
  exitWait: number
  cgroupRemove: number
}

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}

function runCommand(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: 'ignore' })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      if (code === 0) resolve()
      else reject(new Error(`${file} ${args.join(' ')} exited with ${code ?? signal}`))
    })
  })
}

async function prepareBlackhole(): Promise<() => Promise<Steps>> {
  const parsed = await loadConfigFile(CONFIG)
  if (!parsed.ok) throw new Error(`${CONFIG} is invalid: ${JSON.stringify(parsed.errors)}`)
  const profile = parsed.config.profiles[PROFILE]
  const service = parsed.config.services[PROFILE]
  if (profile === undefined || service === undefined) throw new Error(`${CONFIG} has no ${PROFILE} profile and service`)
  const cgroup = new ServiceCgroup(`bench-launch-${process.pid}`)
  createMountPoints(profile.filesystem.writablePaths.map((entry) => entry.path))
  const facts = hostFacts()
  const identity = resolveIdentity(profile, PROFILE, readFileSync('/etc/passwd', 'utf8'), readFileSync('/etc/group', 'utf8'))
  const { spec, notifyActions } = compileLaunch({
    profile,
    service,
    name: PROFILE,
    argv: [TRUE],
    identity,
    host: { arch: 'x86_64', landlockAbi: facts.landlockAbi, boundingCaps: boundingCapabilities(facts.boundingSet), cgroupProcs: cgroup.procsFiles() },
    stdio: [-1, -1, -1],
    listenFds: [],
    persistentSources: {},
    env: {},
  })
  const actions = Object.fromEntries(
    Object.entries(notifyActions).map(([nr, action]) => [nr, action.action === 'errno' ? { action: 'errno' as const, errno: action.errno } : { action: 'continue' as const }]),
  )
  const limits = {
    memoryBytes: profile.resourceLimits.maxMemory,
    pids: profile.resourceLimits.maxProcesses,
    cpus: profile.resourceLimits.maxCpu,
  }

  return async () => {
    const start = nowMs()
    cgroup.create()
    cgroup.setLimits(limits)
    const created = nowMs()
    const child = spawnSandbox(spec)
    const notifier = child.notifyFd === null ? null : new SeccompNotifier(child.notifyFd, {
      actions,
      defaultAction: { action: 'errno', errno: 1 },
      maxQueue: 4096,
      batchMs: 50,
      onBatch: () => undefined,
    })
    const spawned = nowMs()
    const exit = await new Promise<ExitStatus>((resolve) => watchExit(child.pidfd, resolve))
    const exited = nowMs()
    closeFd(child.pidfd)
    notifier?.close()
    await cgroup.remove()
    const removed = nowMs()
    if (exit.code !== 0) throw new Error(`the sandboxed ${TRUE} exited with ${exit.code ?? exit.signal}`)
    return { cgroupCreate: created - start, spawnSandbox: spawned - created, exitWait: exited - spawned, cgroupRemove: removed - exited }
  }
}

function percentile(sorted: number[], fraction: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)
  return sorted[Math.max(0, index)] ?? Number.NaN
}

function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 0.5)
}

async function main(): Promise<void> {
  const launches = Number(process.argv[2] ?? 200)
  if (!Number.isInteger(launches) || launches < 1) throw new Error(`LAUNCHES must be a positive integer, got ${process.argv[2]}`)
  if (process.getuid?.() !== 0) throw new Error('run this benchmark as root: the launcher creates namespaces and cgroups')

  const hasBwrap = existsSync('/usr/bin/bwrap')
  if (!hasBwrap) console.log('bwrap is missing (/usr/bin/bwrap), so its column is left out; install Debian\'s bubblewrap package')
  const methods: Method[] = ['blackhole', 'unshare', ...(hasBwrap ? ['bwrap' as const] : []), 'spawn']
  const blackhole = await prepareBlackhole()
  const run: Record<Method, () => Promise<unknown>> = {
    blackhole,
    unshare: () => runCommand('unshare', UNSHARE_ARGS),
    bwrap: () => runCommand('bwrap', BWRAP_ARGS),
    spawn: () => runCommand(TRUE, []),
  }

  // Five warm-up rounds load the code paths and fill the page cache.
  for (let i = 0; i < 5; i++) for (const method of methods) await run[method]()

  const times: Record<Method, number[]> = { blackhole: [], unshare: [], bwrap: [], spawn: [] }
  const steps: Steps[] = []
  for (let round = 0; round < launches; round++) {
    // Rotate the order each round so no method always follows the same one.
    const order = methods.map((_, i) => methods[(i + round) % methods.length] as Method)
    for (const method of order) {
      const start = nowMs()
      const result = await run[method]()
      times[method].push(nowMs() - start)
      if (method === 'blackhole') steps.push(result as Steps)
    }
  }

  console.log(`${launches} launches per method, interleaved; ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), ` +
    `${(totalmem() / 2 ** 30).toFixed(1)} GiB memory (${(freemem() / 2 ** 30).toFixed(1)} GiB free), kernel ${release()}`)
  console.log('')
  console.log('| Method | Median (ms) | p95 (ms) | Median / unshare | Median / bwrap |')
  console.log('|---|---|---|---|---|')
  const unshareMedian = median(times.unshare)
  const bwrapMedian = hasBwrap ? median(times.bwrap) : Number.NaN
  for (const method of methods) {
    const sorted = [...times[method]].sort((a, b) => a - b)
    const med = percentile(sorted, 0.5)
    const vsBwrap = hasBwrap ? (med / bwrapMedian).toFixed(2) : 'n/a'
    console.log(`| ${method} | ${med.toFixed(2)} | ${percentile(sorted, 0.95).toFixed(2)} | ${(med / unshareMedian).toFixed(2)} | ${vsBwrap} |`)
  }
  console.log('')
  console.log('Blackhole launch steps, median ms:')
  for (const key of ['cgroupCreate', 'spawnSandbox', 'exitWait', 'cgroupRemove'] as const) {
    console.log(`  ${key}: ${median(steps.map((step) => step[key])).toFixed(2)}`)
  }
}

await main()
