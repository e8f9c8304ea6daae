// Measures the API process's resident memory (VmRSS from /proc/self/status)
// with N sandboxed services running (100 by default), each `sleep 3600`
// under a small profile. The supervisor, monitors and HTTP server run in
// this process, as under `blackhole serve`. Every service is stopped and
// its cgroups removed before the script exits, also on failure. Needs root.
//
//   pnpm exec tsx bench/api/memory.ts [services]

import { readFileSync } from 'node:fs'
import { openBlackhole, type Blackhole } from '../../apps/api/src/server/app.js'
import { benchFolder } from './common.js'

const count = Number(process.argv[2] ?? 100)
if (!Number.isInteger(count) || count < 1 || count > 200) {
  throw new Error(`usage: tsx bench/api/memory.ts [services 1-200]; got ${process.argv.slice(2).join(' ')}`)
}
const ADMIN_TOKEN = 'bh_bench-memory-admin-token'

function rssMiB(): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))
  if (match === null) throw new Error('VmRSS missing from /proc/self/status')
  return Number(match[1]) / 1024
}

const services = Array.from(
  { length: count },
  (_, index) => `  bench-${index}:
    profile: sleeper
    command: /bin/sleep
    args: ["3600"]
    autostart: false`,
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
let blackhole: Blackhole | null = null
try {
  blackhole = await openBlackhole({
    configPath: folder.configPath,
    dataDir: folder.dataDir,
    adminToken: ADMIN_TOKEN,
    logger: false,
    webRoot: null,
    autostart: false,
    cgroupRoot: `blackhole-bench-memory-${process.pid}`,
    graceMs: 1000,
  })
  const idle = rssMiB()
  const started = performance.now()
  for (const status of blackhole.supervisor.list()) await blackhole.supervisor.start(status.name, 'bench')
  const startSeconds = (performance.now() - started) / 1000
  const running = blackhole.supervisor.list().filter((status) => status.state === 'running').length
  if (running !== count) throw new Error(`${running} of ${count} services are running`)
  // A few seconds of per-second samples, monitors and a scrape, as in use.
  for (let second = 0; second < 10; second++) {
    await new Promise((resolve) => setTimeout(resolve, 1000))
    await blackhole.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    await blackhole.app.inject({ method: 'GET', url: '/api/v1/services', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  }
  const loaded = rssMiB()
  const heap = process.memoryUsage()
  console.log(`services running: ${running} (started in ${startSeconds.toFixed(1)} s)`)
  console.log(`VmRSS before starting: ${idle.toFixed(1)} MiB`)
  console.log(`VmRSS with ${count} running, after 10 s: ${loaded.toFixed(1)} MiB`)
  console.log(`heapUsed ${(heap.heapUsed / 1048576).toFixed(1)} MiB, external ${(heap.external / 1048576).toFixed(1)} MiB`)
} finally {
  await blackhole?.close('bench')
  folder.remove()
}
