// Time spent by each part of a Blackhole launch: the identity profile's spec
// launched with one part removed at a time (mounts, each namespace,
// Landlock, seccomp), so the difference to the full spec is that part's cost.
//
// Run as root from the repository root:
//   pnpm exec tsx bench/launch/steps.ts [LAUNCHES]
// LAUNCHES is the number per variant, 100 by default.

import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { compileLaunch, loadConfigFile, resolveIdentity } from '../../packages/policy/src/index.js'
import type { LaunchSpec } from '../../packages/policy/src/index.js'
import { SeccompNotifier, closeFd, hostFacts, spawnSandbox, watchExit } from '../../packages/native/lib/index.js'
import type { ExitStatus } from '../../packages/native/lib/index.js'
import { boundingCapabilities, createMountPoints } from '../../apps/api/src/sandbox/launch.js'
import { ServiceCgroup } from '../../apps/api/src/sandbox/cgroups.js'

const CONFIG = fileURLToPath(new URL('../../examples/blackhole.yaml', import.meta.url))

async function identitySpec(): Promise<LaunchSpec> {
  const parsed = await loadConfigFile(CONFIG)
  if (!parsed.ok) throw new Error(`${CONFIG} is invalid: ${JSON.stringify(parsed.errors)}`)
  const profile = parsed.config.profiles.identity
  const service = parsed.config.services.identity
  if (profile === undefined || service === undefined) throw new Error(`${CONFIG} has no identity profile and service`)
  createMountPoints(profile.filesystem.writablePaths.map((entry) => entry.path))
  const facts = hostFacts()
  const identity = resolveIdentity(profile, 'identity', readFileSync('/etc/passwd', 'utf8'), readFileSync('/etc/group', 'utf8'))
  return compileLaunch({
    profile,
    service,
    name: 'identity',
    argv: ['/bin/true'],
    identity,
    host: { arch: 'x86_64', landlockAbi: facts.landlockAbi, boundingCaps: boundingCapabilities(facts.boundingSet), cgroupProcs: [] },
    stdio: [-1, -1, -1],
    listenFds: [],
    persistentSources: {},
    env: {},
  }).spec
}

/** Returns milliseconds for spawnSandbox and for the wait until exit. */
async function launch(spec: LaunchSpec): Promise<[number, number]> {
  const start = process.hrtime.bigint()
  const child = spawnSandbox(spec)
  const spawned = process.hrtime.bigint()
  const notifier = child.notifyFd === null ? null : new SeccompNotifier(child.notifyFd, {
    actions: {},
    defaultAction: { action: 'continue' },
    maxQueue: 100,
    batchMs: 50,
    onBatch: () => undefined,
  })
  const exit = await new Promise<ExitStatus>((resolve) => watchExit(child.pidfd, resolve))
  const exited = process.hrtime.bigint()
  closeFd(child.pidfd)
  notifier?.close()
  if (exit.code !== 0) throw new Error(`/bin/true exited with ${exit.code ?? exit.signal}`)
  return [Number(spawned - start) / 1e6, Number(exited - spawned) / 1e6]
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

async function main(): Promise<void> {
  const launches = Number(process.argv[2] ?? 100)
  // cwd / exists in every variant, unlike the service's working directory.
  const full = { ...(await identitySpec()), cwd: '/' }
  // One cgroup for every launch; launch.ts measures creating and removing it.
  const cgroup = new ServiceCgroup(`bench-steps-${process.pid}`)
  cgroup.create()
  const variants: Record<string, LaunchSpec> = {
    'full spec, placed in the cgroup': { ...full, cgroupProcs: cgroup.procsFiles() },
    'full spec': full,
    'no seccomp': { ...full, seccomp: { mode: 'disabled', filter: null, listener: false, flags: 0 } },
    'no landlock': { ...full, landlock: null },
    'only the root bind mount, no landlock': { ...full, mounts: full.mounts.slice(0, 1), landlock: null },
    'no mount namespace, no landlock': { ...full, mounts: [], namespaces: { ...full.namespaces, mount: false }, landlock: null },
    'no network namespace': { ...full, namespaces: { ...full.namespaces, net: false }, network: { mode: 'host', loopbackUp: false } },
    'no cgroup namespace': { ...full, namespaces: { ...full.namespaces, cgroup: false } },
    'no namespaces, no mounts, no filters': {
      ...full,
      mounts: [],
      namespaces: { pid: false, mount: false, net: false, ipc: false, uts: false, cgroup: false },
      network: { mode: 'host', loopbackUp: false },
      seccomp: { mode: 'disabled', filter: null, listener: false, flags: 0 },
      landlock: null,
    },
  }
  const results = new Map<string, { spawn: number[]; exit: number[] }>()
  for (const name of Object.keys(variants)) results.set(name, { spawn: [], exit: [] })
  for (let round = 0; round < launches; round++) {
    for (const [name, spec] of Object.entries(variants)) {
      const [spawnMs, exitMs] = await launch(spec)
      results.get(name)?.spawn.push(spawnMs)
      results.get(name)?.exit.push(exitMs)
    }
  }
  await cgroup.remove()
  console.log(`${launches} launches per variant, interleaved; median ms`)
  console.log('| Variant | spawnSandbox | exit wait | total |')
  console.log('|---|---|---|---|')
  for (const [name, { spawn, exit }] of results) {
    console.log(`| ${name} | ${median(spawn).toFixed(2)} | ${median(exit).toFixed(2)} | ${(median(spawn) + median(exit)).toFixed(2)} |`)
  }
}

await main()
