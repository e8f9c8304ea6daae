// Latency from a denied syscall inside a sandbox to its event on a
// WebSocket client. A real `bin/blackhole serve` runs on loopback with a
// temporary data folder and its own cgroup parent. Its one service is a
// small C program that calls uname() CALLS times at a fixed pace; the
// profile denies uname, so each call becomes an ACCESS_DENIED event. The
// program passes CLOCK_REALTIME of each call in the syscall's unused
// arguments, which the event's metadata.args carries; the client subtracts
// that from its own realtime clock when the event arrives.
//
// Run as root from the repository root, after `pnpm build`:
//   pnpm exec tsx bench/monitor/denial-latency.ts [CALLS] [PACE_MS]
// CALLS is 200 by default, PACE_MS 20.

import { execFileSync, spawn } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

// The ws client the API package depends on, with the few calls used here.
interface StreamSocket {
  on(event: 'message', listener: (data: Buffer) => void): void
  on(event: 'error', listener: (error: Error) => void): void
  on(event: 'close', listener: (code: number, reason: Buffer) => void): void
  once(event: 'open', listener: () => void): void
  once(event: 'error', listener: (error: Error) => void): void
  send(text: string): void
  close(): void
}
const require = createRequire(new URL('../../apps/api/package.json', import.meta.url))
const { WebSocket } = require('ws') as { WebSocket: new (url: string) => StreamSocket }

const BLACKHOLE = fileURLToPath(new URL('../../bin/blackhole', import.meta.url))
const TOKEN = `bench-${process.pid}-0123456789abcdef0123456789`
const CALLS = Number(process.argv[2] ?? 200)
const PACE_MS = Number(process.argv[3] ?? 20)
const TIMEOUT_MS = 30_000 + CALLS * PACE_MS

if (!Number.isInteger(CALLS) || CALLS < 1 || CALLS > 100_000) throw new Error(`invalid CALLS ${process.argv[2]}: use 1 to 100000`)
if (!Number.isInteger(PACE_MS) || PACE_MS < 1 || PACE_MS > 1000) throw new Error(`invalid PACE_MS ${process.argv[3]}: use 1 to 1000`)

// uname(NULL) with the time in arguments 2 and 3 and the call number in 4.
// In enforce mode the supervisor returns EPERM, so the kernel never reads
// the NULL buffer.
const DENIER_SOURCE = String.raw`
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long calls = atol(argv[1]);
  long paceMs = atol(argv[2]);
  struct timespec pace = { paceMs / 1000, (paceMs % 1000) * 1000000L };
  for (long i = 0; i < calls; i++) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    syscall(SYS_uname, 0L, (long)now.tv_sec, (long)now.tv_nsec, i);
    nanosleep(&pace, NULL);
  }
  for (;;) pause();
}
`

function config(): string {
  return `security_profiles:
  denier:
    enforce_mode: enforce
    syscalls:
      denied: [uname]
    network:
      mode: none
    resource_limits:
      max_processes: 8
services:
  denier:
    profile: denier
    command: /bin/sh
    args: ['-c', 'exec /run/blackhole-app/denier ${CALLS} ${PACE_MS}']
    restart: 'no'
    autostart: false
`
}

function percentile(sorted: number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)
  return sorted[Math.max(0, index)]!
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: the service runs in a sandbox')
  const dir = mkdtempSync(join('/tmp', 'blackhole-bench-latency-'))
  const serve = { pid: 0 as number, exited: Promise.resolve() as Promise<unknown> }
  try {
    // The service runs as its own dynamic user, which must reach the program.
    chmodSync(dir, 0o755)
    writeFileSync(join(dir, 'denier.c'), DENIER_SOURCE)
    execFileSync('cc', ['-O2', '-o', join(dir, 'denier'), join(dir, 'denier.c')])
    writeFileSync(join(dir, 'blackhole.yaml'), config())

    const child = spawn(
      BLACKHOLE,
      ['serve', '--config', join(dir, 'blackhole.yaml'), '--data', join(dir, 'data'), '--port', '0', '--cgroup-parent', `blackhole-bench-${process.pid}`],
      { env: { ...process.env, BLACKHOLE_ADMIN_TOKEN: TOKEN, BLACKHOLE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] },
    )
    serve.pid = child.pid ?? 0
    serve.exited = new Promise((resolve) => child.once('exit', resolve))
    // A crash of this script must not leave the server and its sandbox running.
    process.once('exit', () => {
      if (child.exitCode === null) child.kill('SIGKILL')
    })
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('serve did not print its address within 30 s')), 30_000)
      let text = ''
      child.stdout!.on('data', (chunk: Buffer) => {
        text += chunk.toString()
        const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(text)
        if (match !== null) {
          clearTimeout(timer)
          resolve(Number(match[1]))
        }
      })
      child.once('exit', (code) => reject(new Error(`serve exited with ${code} before listening`)))
    })

    const latencies: number[] = []
    const seen = new Set<number>()
    const socket = new WebSocket(`ws://127.0.0.1:${port}/api/v1/stream`)
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out with ${seen.size} of ${CALLS} events`)), TIMEOUT_MS)
      socket.on('message', (data: Buffer) => {
        const receivedMs = performance.timeOrigin + performance.now()
        const message = JSON.parse(data.toString()) as {
          type: string
          event?: { type: string; description: string; metadata: { syscall?: string; args?: string[] } }
        }
        // The server checks the token asynchronously; a subscribe sent before its hello would close the socket.
        if (message.type === 'hello') socket.send(JSON.stringify({ type: 'subscribe', topics: ['events'] }))
        if (message.event?.type === 'SERVICE_EXITED' || message.event?.type === 'LAUNCH_FAILED') {
          reject(new Error(`the service ended before ${CALLS} events: ${message.event.description}`))
        }
        if (message.type !== 'event' || message.event?.type !== 'ACCESS_DENIED' || message.event.metadata.syscall !== 'uname') return
        const args = message.event.metadata.args ?? []
        const call = Number(args[3])
        if (seen.has(call)) return
        seen.add(call)
        latencies.push(receivedMs - (Number(args[1]) * 1000 + Number(args[2]) / 1e6))
        if (seen.size === CALLS) {
          clearTimeout(timer)
          resolve()
        }
      })
      socket.on('error', reject)
      socket.on('close', (code: number, reason: Buffer) => reject(new Error(`the stream closed with ${code} ${reason.toString()}`)))
    })
    // Awaited below; until then a rejection must not end the process before the cleanup.
    done.catch(() => undefined)
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve())
      socket.once('error', reject)
    })
    socket.send(JSON.stringify({ type: 'auth', token: TOKEN }))
    const started = await fetch(`http://127.0.0.1:${port}/api/v1/services/denier/start`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}` },
    })
    if (!started.ok) throw new Error(`starting the service failed: ${started.status} ${await started.text()}`)
    await done
    socket.close()

    const sorted = [...latencies].sort((a, b) => a - b)
    const mean = latencies.reduce((sum, value) => sum + value, 0) / latencies.length
    console.log(`machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, kernel ${release()}, Node ${process.version}, load ${loadavg().map((value) => value.toFixed(2)).join(' ')}`)
    console.log(`calls: ${CALLS} denied uname() calls, one every ${PACE_MS} ms; events received: ${latencies.length}`)
    console.log(`latency, syscall to WebSocket receipt (ms): p50 ${percentile(sorted, 50).toFixed(2)}, p90 ${percentile(sorted, 90).toFixed(2)}, p99 ${percentile(sorted, 99).toFixed(2)}, max ${sorted[sorted.length - 1]!.toFixed(2)}, mean ${mean.toFixed(2)}`)
  } finally {
    if (serve.pid > 0) {
      process.kill(serve.pid, 'SIGTERM')
      await Promise.race([serve.exited, new Promise((resolve) => setTimeout(resolve, 15_000))])
    }
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
