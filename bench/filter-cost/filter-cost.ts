// Per-syscall cost of the sandbox's seccomp filter. A C loop of getppid()
// calls, or of 1-byte read() calls from /dev/zero, times itself in three
// places: outside any sandbox, inside a sandbox of the identity profile of
// examples/blackhole.yaml, and under strace (ptrace, the approach Blackhole
// avoids). Runs are interleaved and repeated; the table shows medians.
//
// Run as root from the repository root:
//   pnpm exec tsx bench/filter-cost/filter-cost.ts [CALLS] [ROUNDS]
// CALLS per run (5,000,000 by default; strace runs a 25th of them, because
// each traced call costs microseconds) and ROUNDS of each setup (5 by default).

import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { compileLaunch, loadConfigFile, resolveIdentity } from '../../packages/policy/src/index.js'
import type { LaunchSpec, NotifyAction } from '../../packages/policy/src/index.js'
import { SeccompNotifier, closeFd, hostFacts, spawnSandbox, watchExit } from '../../packages/native/lib/index.js'
import type { ExitStatus } from '../../packages/native/lib/index.js'
import { boundingCapabilities, createMountPoints } from '../../apps/api/src/sandbox/launch.js'

const CONFIG = fileURLToPath(new URL('../../examples/blackhole.yaml', import.meta.url))

// Prints the nanoseconds per call of CALLS calls of the chosen syscall.
const LOOP_SOURCE = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  long calls = atol(argv[2]);
  int readMode = strcmp(argv[1], "read") == 0;
  int fd = readMode ? open("/dev/zero", O_RDONLY) : -1;
  if (readMode && fd < 0) return 3;
  char byte;
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (long i = 0; i < calls; i++) {
    if (readMode) {
      if (read(fd, &byte, 1) != 1) return 4;
    } else {
      syscall(SYS_getppid);
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  double ns = (end.tv_sec - start.tv_sec) * 1e9 + (end.tv_nsec - start.tv_nsec);
  printf("%.2f\n", ns / calls);
  return 0;
}
`

type Setup = 'outside' | 'sandbox' | 'strace'
type Loop = 'getppid' | 'read'

async function sandboxSpec(program: string): Promise<{ spec: LaunchSpec; actions: Record<number, NotifyAction> }> {
  const parsed = await loadConfigFile(CONFIG)
  if (!parsed.ok) throw new Error(`${CONFIG} is invalid: ${JSON.stringify(parsed.errors)}`)
  const profile = parsed.config.profiles.identity
  const service = parsed.config.services.identity
  if (profile === undefined || service === undefined) throw new Error(`${CONFIG} has no identity profile and service`)
  createMountPoints(profile.filesystem.writablePaths.map((entry) => entry.path))
  const facts = hostFacts()
  const identity = resolveIdentity(profile, 'identity', readFileSync('/etc/passwd', 'utf8'), readFileSync('/etc/group', 'utf8'))
  const { spec, notifyActions } = compileLaunch({
    profile,
    service,
    name: 'identity',
    argv: [program],
    identity,
    host: { arch: 'x86_64', landlockAbi: facts.landlockAbi, boundingCaps: boundingCapabilities(facts.boundingSet), cgroupProcs: [] },
    stdio: [-1, -1, -1],
    listenFds: [],
    persistentSources: {},
    env: {},
  })
  return { spec: { ...spec, cwd: '/' }, actions: notifyActions }
}

async function runInside(base: LaunchSpec, actions: Record<number, NotifyAction>, argv: string[], output: string): Promise<number> {
  const fd = openSync(output, 'w+')
  try {
    const child = spawnSandbox({ ...base, argv, stdio: [-1, fd, -1] })
    const notifier = child.notifyFd === null ? null : new SeccompNotifier(child.notifyFd, {
      actions: Object.fromEntries(Object.entries(actions).map(([nr, a]) => [nr, a.action === 'errno' ? { action: 'errno' as const, errno: a.errno } : { action: 'continue' as const }])),
      defaultAction: { action: 'errno', errno: 1 },
      maxQueue: 100,
      batchMs: 50,
      onBatch: () => undefined,
    })
    const exit = await new Promise<ExitStatus>((resolve) => watchExit(child.pidfd, resolve))
    closeFd(child.pidfd)
    notifier?.close()
    if (exit.code !== 0) throw new Error(`${argv.join(' ')} exited with ${exit.code ?? exit.signal} in the sandbox`)
  } finally {
    closeSync(fd)
  }
  return Number(readFileSync(output, 'utf8').trim())
}

function runOutside(file: string, args: string[]): number {
  const run = spawnSync(file, args, { encoding: 'utf8' })
  if (run.status !== 0) throw new Error(`${file} ${args.join(' ')} failed: ${run.stderr}`)
  // strace prints its own summary to /dev/null; the loop's line is the last one on stdout.
  return Number(run.stdout.trim().split('\n').pop())
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

async function main(): Promise<void> {
  const calls = Number(process.argv[2] ?? 5_000_000)
  const rounds = Number(process.argv[3] ?? 5)
  if (process.getuid?.() !== 0) throw new Error('run this benchmark as root: the launcher creates namespaces')
  // The sandbox gets a private /tmp, so the program goes where its read-only root shows it.
  const work = mkdtempSync('/var/lib/blackhole-filter-cost-')
  try {
    chmodSync(work, 0o755)
    writeFileSync(join(work, 'loop.c'), LOOP_SOURCE)
    const program = join(work, 'loop')
    execFileSync('gcc', ['-O2', '-o', program, join(work, 'loop.c')])
    chmodSync(program, 0o755)
    const { spec, actions } = await sandboxSpec(program)
    const straceCalls = Math.max(1, Math.round(calls / 25))

    const results: Record<Setup, Record<Loop, number[]>> = {
      outside: { getppid: [], read: [] },
      sandbox: { getppid: [], read: [] },
      strace: { getppid: [], read: [] },
    }
    for (let round = 0; round < rounds; round++) {
      for (const loop of ['getppid', 'read'] as const) {
        results.outside[loop].push(runOutside(program, [loop, String(calls)]))
        results.sandbox[loop].push(await runInside(spec, actions, [program, loop, String(calls)], join(work, 'out')))
        results.strace[loop].push(runOutside('strace', ['-f', '-c', '-o', '/dev/null', program, loop, String(straceCalls)]))
      }
    }

    console.log(`${rounds} rounds, interleaved; ${calls} calls per run (${straceCalls} under strace); ` +
      `${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, kernel ${release()}; ` +
      `filter of ${Buffer.from(spec.seccomp.filter ?? '', 'base64').length / 8} instructions`)
    console.log('')
    console.log('| Loop | Outside (ns/call) | Sandbox (ns/call) | Sandbox slowdown | strace -f -c (ns/call) | strace slowdown |')
    console.log('|---|---|---|---|---|---|')
    for (const loop of ['getppid', 'read'] as const) {
      const outside = median(results.outside[loop])
      const sandbox = median(results.sandbox[loop])
      const strace = median(results.strace[loop])
      const percent = (value: number) => `${(((value - outside) / outside) * 100).toFixed(1)}%`
      console.log(`| ${loop} | ${outside.toFixed(1)} | ${sandbox.toFixed(1)} | ${percent(sandbox)} | ${strace.toFixed(0)} | ${(strace / outside).toFixed(0)}x |`)
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

await main()
