// Cost of Blackhole's monitoring on a syscall-heavy workload. A small C
// program makes GETPPID_CALLS getppid() calls, then OPEN_CALLS openat() and
// close() pairs on one file, and prints how long each part took. It runs in
// four setups, in one process run:
//   bare       straight on the host, no sandbox;
//   off        a service under the supervisor whose profile has
//              enforce_mode: disabled, so no seccomp filter, no notifier
//              and no Landlock, but the same namespaces and cgroups;
//   on         the same service with enforce_mode: enforce: the seccomp
//              filter with its notifier, Landlock, and the supervisor's
//              Landlock, network, process and resource monitors running;
//   strace     `strace -f -qq -o /dev/null` on the host (ptrace, the
//              approach Blackhole avoids).
// bare, off and on run ROUNDS times, interleaved; strace runs once, because
// each traced syscall costs microseconds. The table shows medians.
//
// Run as root from the repository root:
//   pnpm exec tsx bench/monitor/overhead.ts [GETPPID_CALLS] [OPEN_CALLS] [ROUNDS]
// Defaults: 2,000,000 getppid calls, 200,000 openat/close pairs, 3 rounds.

import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { openBlackhole, type Blackhole } from '../../apps/api/src/server/app.js'
import { detectLayout } from '../../apps/api/src/sandbox/cgroups.js'
import type { AuditRecord } from '../../apps/api/src/types.js'

const GETPPID_CALLS = Number(process.argv[2] ?? 2_000_000)
const OPEN_CALLS = Number(process.argv[3] ?? 200_000)
const ROUNDS = Number(process.argv[4] ?? 3)
const RUN_TIMEOUT_MS = 300_000

for (const [name, value, max] of [['GETPPID_CALLS', GETPPID_CALLS, 1e8], ['OPEN_CALLS', OPEN_CALLS, 1e7], ['ROUNDS', ROUNDS, 20]] as const) {
  if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`invalid ${name} ${value}: use a whole number from 1 to ${max}`)
}

// Prints "<getppid ms> <openat+close ms>", measured with CLOCK_MONOTONIC.
const WORKLOAD_SOURCE = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double elapsedMs(struct timespec *start) {
  struct timespec end;
  clock_gettime(CLOCK_MONOTONIC, &end);
  return (end.tv_sec - start->tv_sec) * 1e3 + (end.tv_nsec - start->tv_nsec) / 1e6;
}

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  long getppidCalls = atol(argv[1]);
  long openCalls = atol(argv[2]);
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (long i = 0; i < getppidCalls; i++) syscall(SYS_getppid);
  double getppidMs = elapsedMs(&start);
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (long i = 0; i < openCalls; i++) {
    int fd = openat(AT_FDCWD, argv[3], O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 3;
    close(fd);
  }
  double openMs = elapsedMs(&start);
  printf("%.3f %.3f\n", getppidMs, openMs);
  return 0;
}
`

type Setup = 'bare' | 'off' | 'on' | 'strace'

interface Timing {
  getppidMs: number
  openMs: number
}

function parseTiming(text: string, what: string): Timing {
  const line = text.trim().split('\n').pop() ?? ''
  const [getppidMs, openMs] = line.split(' ').map(Number)
  if (!Number.isFinite(getppidMs) || !Number.isFinite(openMs)) throw new Error(`${what} printed "${line}" instead of two times`)
  return { getppidMs: getppidMs!, openMs: openMs! }
}

function config(): string {
  // The command is resolved on the host, where the sandbox's app folder does
  // not exist, so a shell inside the sandbox runs the program.
  const service = (name: string) => `  ${name}:
    profile: ${name}
    command: /bin/sh
    args: ['-c', 'exec /run/blackhole-app/workload ${GETPPID_CALLS} ${OPEN_CALLS} /run/blackhole-app/target.txt']
    restart: 'no'
    autostart: false
`
  const profile = (name: string, mode: string) => `  ${name}:
    enforce_mode: ${mode}
    network:
      mode: none
    resource_limits:
      max_processes: 8
`
  return `security_profiles:\n${profile('on', 'enforce')}${profile('off', 'disabled')}services:\n${service('on')}${service('off')}`
}

/** Starts a service, waits for its exit and reads its timing line from its log. */
async function runService(blackhole: Blackhole, name: 'on' | 'off', dataDir: string): Promise<Timing> {
  const logPath = join(dataDir, 'logs', `${name}.log`)
  rmSync(logPath, { force: true })
  const exited = new Promise<AuditRecord>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not exit within ${RUN_TIMEOUT_MS} ms`)), RUN_TIMEOUT_MS)
    const unsubscribe = blackhole.audit.subscribe((record) => {
      if (record.service !== name || (record.type !== 'SERVICE_EXITED' && record.type !== 'LAUNCH_FAILED')) return
      clearTimeout(timer)
      unsubscribe()
      resolve(record)
    })
  })
  await blackhole.supervisor.start(name, 'bench')
  const record = await exited
  if (record.type !== 'SERVICE_EXITED' || record.metadata.exitCode !== 0) throw new Error(`${name}: ${record.description}`)
  return parseTiming(readFileSync(logPath, 'utf8'), `service ${name}`)
}

function runHost(file: string, args: string[], what: string): Timing {
  const run = spawnSync(file, args, { encoding: 'utf8', timeout: RUN_TIMEOUT_MS })
  if (run.status !== 0) throw new Error(`${what} failed (${run.status ?? run.signal}): ${run.stderr}`)
  return parseTiming(run.stdout, what)
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: the services run in sandboxes')
  const dir = mkdtempSync(join('/tmp', 'blackhole-bench-overhead-'))
  const cgroupRoot = `blackhole-bench-overhead-${process.pid}`
  let blackhole: Blackhole | null = null
  try {
    // The services run as their own dynamic users, which must reach the program and the file.
    chmodSync(dir, 0o755)
    writeFileSync(join(dir, 'workload.c'), WORKLOAD_SOURCE)
    execFileSync('cc', ['-O2', '-o', join(dir, 'workload'), join(dir, 'workload.c')])
    writeFileSync(join(dir, 'target.txt'), 'blackhole\n', { mode: 0o644 })
    writeFileSync(join(dir, 'blackhole.yaml'), config())
    const dataDir = join(dir, 'data')
    blackhole = await openBlackhole({
      configPath: join(dir, 'blackhole.yaml'), dataDir, logger: false, autostart: false, webRoot: null,
      rulesPath: null, cgroupRoot, print: () => undefined,
    })
    const args = [String(GETPPID_CALLS), String(OPEN_CALLS), join(dir, 'target.txt')]
    const results: Record<Setup, Timing[]> = { bare: [], off: [], on: [], strace: [] }
    const loadStart = loadavg()
    for (let round = 0; round < ROUNDS; round++) {
      results.bare.push(runHost(join(dir, 'workload'), args, 'bare run'))
      results.off.push(await runService(blackhole, 'off', dataDir))
      results.on.push(await runService(blackhole, 'on', dataDir))
    }
    results.strace.push(runHost('strace', ['-f', '-qq', '-o', '/dev/null', join(dir, 'workload'), ...args], 'strace run'))
    const loadEnd = loadavg()

    const bare = { getppid: median(results.bare.map((t) => t.getppidMs)), open: median(results.bare.map((t) => t.openMs)) }
    console.log(`machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, kernel ${release()}, Node ${process.version}`)
    console.log(`load average: start ${loadStart.map((v) => v.toFixed(2)).join(' ')}, end ${loadEnd.map((v) => v.toFixed(2)).join(' ')}`)
    console.log(`workload: ${GETPPID_CALLS} getppid(), then ${OPEN_CALLS} openat()+close(); ${ROUNDS} rounds (strace 1)`)
    console.log('')
    console.log('| Setup | getppid total | ns per call | vs bare | openat+close total | ns per pair | vs bare | Both vs bare |')
    console.log('|---|---|---|---|---|---|---|---|')
    for (const setup of ['bare', 'off', 'on', 'strace'] as const) {
      const getppid = median(results[setup].map((t) => t.getppidMs))
      const open = median(results[setup].map((t) => t.openMs))
      console.log(
        `| ${setup} | ${getppid.toFixed(1)} ms | ${((getppid * 1e6) / GETPPID_CALLS).toFixed(0)} | ${(getppid / bare.getppid).toFixed(2)}x ` +
          `| ${open.toFixed(1)} ms | ${((open * 1e6) / OPEN_CALLS).toFixed(0)} | ${(open / bare.open).toFixed(2)}x ` +
          `| ${((getppid + open) / (bare.getppid + bare.open)).toFixed(2)}x |`,
      )
    }
    const on = median(results.on.map((t) => t.getppidMs + t.openMs))
    const off = median(results.off.map((t) => t.getppidMs + t.openMs))
    console.log('')
    console.log(`monitoring on vs off: ${(on / off).toFixed(2)}x`)
  } finally {
    await blackhole?.close('bench')
    rmSync(dir, { recursive: true, force: true })
    const layout = detectLayout()
    for (const mount of new Set([...Object.values(layout.v1), ...(layout.unified ? [layout.unified] : [])])) {
      if (existsSync(join(mount, cgroupRoot))) rmdirSync(join(mount, cgroupRoot))
    }
  }
}

await main()
