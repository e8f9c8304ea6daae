// Times the dashboard's Events page in Debian's Chromium over an audit log
// of N records (1,000,000 by default). It starts a real `bin/blackhole serve`
// on that data folder and signs a headless Chromium in through the API. For
// each of R loads (5 by default) it records the time from navigation to the
// first table row, and the time until rows of the next page appear after
// scrolling to the end of the loaded rows.
//
//   pnpm build && pnpm exec tsx bench/api/events-render.ts [records] [loads]

import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { chromium } from '@playwright/test'
import { benchFolder, formatMs, percentile } from './common.js'
import { fill } from './fill.js'

const records = Number(process.argv[2] ?? 1_000_000)
const loads = Number(process.argv[3] ?? 5)
if (!Number.isInteger(records) || records < 1000 || !Number.isInteger(loads) || loads < 1) {
  throw new Error(`usage: tsx bench/api/events-render.ts [records >= 1000] [loads >= 1]; got ${process.argv.slice(2).join(' ')}`)
}
const ADMIN_TOKEN = 'bh_bench-events-render-admin-token'
const BLACKHOLE = fileURLToPath(new URL('../../bin/blackhole', import.meta.url))
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-quic', '--no-first-run',
]
const ROW = '[data-testid="filtered-event-row"]'

/** Starts `blackhole serve` on a free port and resolves with its base URL once it listens. */
function startServer(configPath: string, dataDir: string) {
  const child = spawn(
    BLACKHOLE,
    ['serve', '--config', configPath, '--data', dataDir, '--port', '0', '--cgroup-parent', `bench-render-${process.pid}`],
    { env: { ...process.env, BLACKHOLE_ADMIN_TOKEN: ADMIN_TOKEN, BLACKHOLE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const url = new Promise<string>((resolve, reject) => {
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (match) resolve(match[1]!)
    })
    child.on('exit', (code) => reject(new Error(`blackhole serve exited with ${code} before listening: ${output}`)))
  })
  return { child, url }
}

const folder = benchFolder('blackhole-bench-render-', 'security_profiles: {}\nservices: {}\n')
try {
  process.stderr.write(`appending ${records} records through the AuditLog\n`)
  const fillSeconds = await fill(folder.dataDir, records)
  const server = startServer(folder.configPath, folder.dataDir)
  try {
    const base = await server.url
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
      const login = await context.request.post(`${base}/api/v1/auth/login`, { data: { token: ADMIN_TOKEN } })
      if (!login.ok()) throw new Error(`login failed: ${login.status()} ${await login.text()}`)
      const firstRow: number[] = []
      const nextPage: number[] = []
      for (let i = 0; i < loads; i++) {
        const page = await context.newPage()
        const started = performance.now()
        await page.goto(`${base}/#/events`)
        await page.locator(ROW).first().waitFor({ timeout: 30_000 })
        firstRow.push(performance.now() - started)
        // Scroll to the end of what is loaded; the table fetches the next page by seq.
        const before = await page.locator(ROW).last().getAttribute('data-seq')
        const scrolled = performance.now()
        await page.evaluate(() => {
          const scroller = document.querySelector('.events-scroll')
          scroller?.scrollTo({ top: scroller.scrollHeight })
        })
        await page.waitForFunction(
          ([selector, seq]) => [...document.querySelectorAll(selector)].some((row) => Number(row.getAttribute('data-seq')) < Number(seq)),
          [ROW, before ?? '0'] as const,
          { timeout: 30_000 },
        )
        nextPage.push(performance.now() - scrolled)
        await page.close()
      }
      console.log(`records: ${records} (fill ${fillSeconds.toFixed(1)} s); ${loads} loads of #/events in Chromium`)
      console.log('| Measure | p50 | max |')
      console.log('|---|---|---|')
      console.log(`| navigation to first row | ${formatMs(percentile(firstRow, 50))} | ${formatMs(Math.max(...firstRow))} |`)
      console.log(`| scroll to end to next page's rows | ${formatMs(percentile(nextPage, 50))} | ${formatMs(Math.max(...nextPage))} |`)
    } finally {
      await browser.close()
    }
  } finally {
    server.child.kill('SIGTERM')
    await new Promise((resolve) => server.child.once('exit', resolve))
  }
} finally {
  folder.remove()
}
