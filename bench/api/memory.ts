// Measures the resident memory (VmRSS from /proc/PID/status) of a
// `blackhole serve` process with N sandboxed services running (100 by
// default), each `sleep 3600` under a small profile. It runs the compiled
// CLI (bin/blackhole, so `pnpm build` first) on 127.0.0.1 with its own
// cgroup parent, waits until every service runs, scrapes /metrics and
// /api/v1/services once a second for 10 s, reads VmRSS, then sends SIGTERM,
// which stops every service before serve exits. Needs root.
//
//   pnpm exec tsx bench/api/memory.ts [services]

import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchFolder } from './common.js'

const count = Number(process.argv[2] ?? 100)
if (!Number.isInteger(count) || count < 1 || count > 200) {
  throw new Error(`usage: tsx bench/api/memory.ts [services 1-200]; got ${process.argv.slice(2).join(' ')}`)
}
const BIN = fileURLToPath(new URL('../../bin/blackhole', import.meta.url))
const ADMIN_TOKEN = 'bh_bench-memory-admin-token'

function rssMiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (match === null) throw new Error(`VmRSS missing from /proc/${pid}/status`)
  return Number(match[1]) / 1024
}

const services = Array.from(
  { length: count },
  (_, index) => `  bench-${index}:
    profile: sleeper
    command: /bin/sleep
    args: ["3600"]`,
).join('\n')
const config = `security_profiles:
  sleeper:
    resource_limits:
      max_memory: 16MB
      max_processes: 4
services:
${services}
`

const folder = benchFolder('blackhole-bench-memory-', config)
const child = spawn(
  process.execPath,
  [BIN, 'serve', '--config', folder.configPath, '--data', join(folder.dir, 'data'), '--port', '0', '--cgroup-parent', `blackhole-bench-memory-${process.pid}`],
  { env: { ...process.env, BLACKHOLE_ADMIN_TOKEN: ADMIN_TOKEN, BLACKHOLE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] },
)
const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
try {
  const base = await new Promise<string>((resolve, reject) => {
    let output = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /listening on (http:\/\/\S+)/.exec(output)
      if (match !== null) resolve(match[1]!)
    })
    void exited.then((code) => reject(new Error(`serve exited with ${code} before listening`)))
  })
  const get = async (path: string) => {
    const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    return response.text()
  }
  const started = performance.now()
  let running = 0
  while (running < count && performance.now() - started < 120_000) {
    await new Promise((resolve) => setTimeout(resolve, 500))
    const list = JSON.parse(await get('/api/v1/services')) as { state: string }[]
    running = list.filter((status) => status.state === 'running').length
  }
  if (running !== count) throw new Error(`${running} of ${count} services are running after 120 s`)
  const startSeconds = (performance.now() - started) / 1000
  const atStart = rssMiB(child.pid!)
  for (let second = 0; second < 10; second++) {
    await new Promise((resolve) => setTimeout(resolve, 1000))
    await get('/metrics')
    await get('/api/v1/services')
  }
  console.log(`services running: ${running} (all running within ${startSeconds.toFixed(1)} s)`)
  console.log(`VmRSS when all ran: ${atStart.toFixed(1)} MiB`)
  console.log(`VmRSS after 10 s of scrapes: ${rssMiB(child.pid!).toFixed(1)} MiB`)
} finally {
  child.kill('SIGTERM')
  const code = await exited
  console.log(`serve exited with ${code} after stopping the services`)
  folder.remove()
}
