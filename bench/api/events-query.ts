// Times GET /api/v1/events over an audit log of N records (1,000,000 by
// default). The records are appended through the real AuditLog (hash
// chain, HMAC, JSONL with fdatasync per group commit) from many concurrent
// producers, then the API is opened on that data folder and each query
// shape is sent R times (200 by default) through Fastify's inject.
//
//   pnpm exec tsx bench/api/events-query.ts [records] [repeats]

import { performance } from 'node:perf_hooks'
import { openBlackhole } from '../../apps/api/src/server/app.js'
import { benchFolder, formatMs, percentile } from './common.js'
import { fill } from './fill.js'

const records = Number(process.argv[2] ?? 1_000_000)
const repeats = Number(process.argv[3] ?? 200)
if (!Number.isInteger(records) || records < 1000 || !Number.isInteger(repeats) || repeats < 1) {
  throw new Error(`usage: tsx bench/api/events-query.ts [records >= 1000] [repeats >= 1]; got ${process.argv.slice(2).join(' ')}`)
}
const ADMIN_TOKEN = 'bh_bench-events-query-admin-token'

const folder = benchFolder('blackhole-bench-events-')
try {
  process.stderr.write(`appending ${records} records through the AuditLog\n`)
  const fillSeconds = await fill(folder.dataDir, records)
  const blackhole = await openBlackhole({
    configPath: folder.configPath,
    dataDir: folder.dataDir,
    adminToken: ADMIN_TOKEN,
    logger: false,
    webRoot: null,
    autostart: false,
  })
  try {
    const middle = Math.floor(records / 2)
    const shapes: [string, string][] = [
      ['latest 100', ''],
      ['service', 'service=svc-3'],
      ['type', 'type=ACCESS_DENIED'],
      ['severity', 'severity=high'],
      ['service + type', 'service=svc-4&type=ACCESS_DENIED'],
      // svc-5 holds only odd indexes, so it has no ACCESS_DENIED: the query reads to the start.
      ['service + type, no match', 'service=svc-5&type=ACCESS_DENIED'],
      ['rare type', 'type=OOM_KILL'],
      ['before (middle page)', `before=${middle}`],
      ['service + before', `service=svc-7&before=${middle}`],
      ['limit 1000', 'limit=1000'],
    ]
    console.log(`records: ${records} (fill ${fillSeconds.toFixed(1)} s, ${Math.round(records / fillSeconds)} records/s)`)
    console.log('| Query | Rows | p50 | p95 | max |')
    console.log('|---|---|---|---|---|')
    for (const [label, query] of shapes) {
      const times: number[] = []
      let rows = 0
      for (let i = 0; i < repeats; i++) {
        const started = performance.now()
        const response = await blackhole.app.inject({
          method: 'GET',
          url: `/api/v1/events${query === '' ? '' : `?${query}`}`,
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        })
        times.push(performance.now() - started)
        if (response.statusCode !== 200) throw new Error(`${label}: status ${response.statusCode}: ${response.body}`)
        rows = (response.json() as unknown[]).length
      }
      console.log(`| ${label} (\`${query || 'no filter'}\`) | ${rows} | ${formatMs(percentile(times, 50))} | ${formatMs(percentile(times, 95))} | ${formatMs(Math.max(...times))} |`)
    }
  } finally {
    await blackhole.close()
  }
} finally {
  folder.remove()
}
