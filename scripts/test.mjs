#!/usr/bin/env node
// Runs every test suite in order and prints one summary line at the end:
// the policy and API unit tests, the kernel tests (as root: namespaces,
// cgroups, seccomp, Landlock, the escape probes), then the Playwright tests
// in Debian's Chromium. Each suite runs even when an earlier one failed, so
// one run shows every failure. Exit status: 0 when all passed, 1 otherwise.
//
//   pnpm test                 every suite
//   pnpm test unit kernel     only the named suites (unit, kernel, e2e)

import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const bin = join(root, 'node_modules', '.bin')
const reports = mkdtempSync(join(tmpdir(), 'blackhole-test-'))

const suites = {
  unit: () => vitest('unit'),
  kernel: () => vitest('kernel'),
  e2e: () => playwright(),
}

function vitest(project) {
  const outputFile = join(reports, `${project}.json`)
  const result = spawnSync(
    join(bin, 'vitest'),
    ['run', '--project', project, '--reporter=default', '--reporter=json', `--outputFile.json=${outputFile}`],
    { cwd: root, stdio: 'inherit' },
  )
  const counts = readCounts(outputFile, (report) => ({
    passed: report.numPassedTests,
    failed: report.numFailedTests + (report.numRuntimeErrors ?? 0),
    skipped: report.numPendingTests + report.numTodoTests,
  }))
  return finish(project, result.status, counts)
}

function playwright() {
  const outputFile = join(reports, 'e2e.json')
  const result = spawnSync(join(bin, 'playwright'), ['test', '-c', 'e2e/playwright.config.ts', '--reporter=list,json'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, PLAYWRIGHT_JSON_OUTPUT_NAME: outputFile },
  })
  const counts = readCounts(outputFile, (report) => ({
    passed: report.stats.expected,
    failed: report.stats.unexpected + report.stats.flaky,
    skipped: report.stats.skipped,
  }))
  return finish('e2e', result.status, counts)
}

function readCounts(file, pick) {
  try {
    return pick(JSON.parse(readFileSync(file, 'utf8')))
  } catch {
    return null
  }
}

// A suite that exits non-zero without a report (a crash, a config error)
// counts as one failure so the summary never reads green by accident.
function finish(name, status, counts) {
  const c = counts ?? { passed: 0, failed: 0, skipped: 0 }
  if (status !== 0 && c.failed === 0) c.failed = 1
  console.log(`\n[${name}] ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped (exit ${status})\n`)
  return c
}

const requested = process.argv.slice(2)
for (const name of requested) {
  if (!(name in suites)) {
    console.error(`test.mjs: unknown suite '${name}'; expected one of: ${Object.keys(suites).join(', ')}`)
    process.exit(2)
  }
}
if (process.getuid?.() !== 0 && (requested.length === 0 || requested.includes('kernel'))) {
  console.error('test.mjs: the kernel and e2e suites need root (namespaces, cgroups); run as root')
  process.exit(2)
}

const total = { passed: 0, failed: 0, skipped: 0 }
for (const name of requested.length > 0 ? requested : Object.keys(suites)) {
  const c = suites[name]()
  total.passed += c.passed
  total.failed += c.failed
  total.skipped += c.skipped
}
rmSync(reports, { recursive: true, force: true })
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`)
process.exit(total.failed === 0 ? 0 : 1)
