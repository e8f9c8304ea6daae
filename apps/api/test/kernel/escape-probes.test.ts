// Runs the escape probes (small C programs, one per real-world sandbox
// escape or leak) inside `bin/blackhole run` under a strict test profile and
// under each example profile. Every probe must print CONTAINED, or SKIP when
// this kernel cannot show the case either way.
//
// The probe sources live in the read-only shared folder beside the
// repository. They are built into a temporary folder under /var/lib, because
// the sandbox must show each probe at the path the launcher was given: /var/lib
// stays visible read-only inside, and the services' unprivileged uids can
// traverse it (the sandbox hides /tmp and /run).

import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const repo = join(import.meta.dirname, '..', '..', '..', '..')
const probesSource = join(repo, '..', 'shared', 'cases', 'escape-probes')
const blackhole = join(repo, 'bin', 'blackhole')
const examples = join(repo, 'examples', 'blackhole.yaml')

// A profile with nothing granted: no capabilities, no network, enforce mode.
const STRICT_CONFIG = `security_profiles:
  strict:
    enforce_mode: enforce
    filesystem:
      read_only_root: true
      writable_paths:
        - /var/run/blackhole/strict
    network:
      mode: none
    resource_limits:
      max_memory: 256MiB
      max_file_descriptors: 256
      max_processes: 32
`

interface ProbeResult {
  id: string
  status: string
  detail: string
}

let work = ''
let keepWork = false

beforeAll(() => {
  if (!existsSync(probesSource)) return
  work = mkdtempSync('/var/lib/blackhole-probes-')
  chmodSync(work, 0o755)
  execFileSync('sh', [join(probesSource, 'build.sh')], {
    env: { ...process.env, PROBES_BIN: join(work, 'bin') },
    stdio: 'pipe',
  })
  writeFileSync(join(work, 'strict.yaml'), STRICT_CONFIG)
})

// The folder stays when a probe failed, so its log can be read.
afterAll(() => {
  if (work !== '' && !keepWork) rmSync(work, { recursive: true, force: true })
})

function runProbes(profile: string, config: string, allowedCaps: string): ProbeResult[] {
  writeFileSync(join(work, 'allowed-caps'), `${allowedCaps}\n`)
  const results = join(work, `${profile}.tsv`)
  const run = spawnSync(
    'sh',
    [join(probesSource, 'run-all.sh'), '-o', results, '-l', join(work, `${profile}.log`), '-t', '60', '--',
      blackhole, 'run', '--profile', profile, '--config', config, '--'],
    { env: { ...process.env, PROBES_BIN: join(work, 'bin') }, encoding: 'utf8', timeout: 600_000 },
  )
  if (!existsSync(results)) throw new Error(`run-all.sh wrote no results: ${run.stdout}\n${run.stderr}`)
  return readFileSync(results, 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [id = '', status = '', detail = ''] = line.split('\t')
      return { id, status, detail }
    })
}

const cases: { profile: string; config: () => string; caps: string }[] = [
  { profile: 'strict', config: () => join(work, 'strict.yaml'), caps: '' },
  { profile: 'identity', config: () => examples, caps: 'net_bind_service' },
  { profile: 'storage', config: () => examples, caps: 'net_bind_service,sys_resource' },
]

describe.skipIf(!existsSync(probesSource))('escape probes', () => {
  for (const { profile, config, caps } of cases) {
    it(`are contained under the ${profile} profile`, () => {
      const results = runProbes(profile, config(), caps)
      expect(results.length).toBeGreaterThanOrEqual(20)
      const failed = results.filter((r) => r.status !== 'CONTAINED' && r.status !== 'SKIP')
      if (failed.length > 0) keepWork = true
      expect(failed, `probes not contained under ${profile}: see ${work}/${profile}.log`).toEqual([])
    })
  }
})
