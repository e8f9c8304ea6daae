// Runs `bin/blackhole run` as a real process, as root: the exit status of
// the sandboxed command, the launch-failure status 125 and config errors.
// Needs `pnpm build` first, like every use of bin/blackhole.

import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const BIN = fileURLToPath(new URL('../../../../bin/blackhole', import.meta.url))

describe('blackhole run', () => {
  let dir: string

  // A temporary working folder keeps the default ./data out of the checkout.
  const run = (args: string[]) =>
    spawnSync(process.execPath, [BIN, 'run', ...args], { cwd: dir, encoding: 'utf8', timeout: 30_000 })

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'blackhole-run-'))
  })

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it('exits with the command status', () => {
    const result = run(['--profile', 'identity', '--', '/bin/sh', '-c', 'id -u; exit 3'])
    expect(result.stderr).toBe('')
    expect(result.status).toBe(3)
    expect(Number(result.stdout.trim())).toBeGreaterThan(0)
  })

  it('runs as the profile user, not root', () => {
    const result = run(['--profile', 'storage', '--', '/bin/sh', '-c', 'id -u; id -G'])
    expect(result.status).toBe(0)
    const [uid, groups] = result.stdout.trim().split('\n')
    expect(Number(uid)).not.toBe(0)
    expect(groups!.split(' ')).not.toContain('0')
  })

  it('exits 125 when the command cannot launch', () => {
    const result = run(['--profile', 'identity', '--', '/nonexistent/program'])
    expect(result.status).toBe(125)
    expect(result.stderr).toMatch(/^blackhole: launch failed: .*\/nonexistent\/program/)
  })

  it('exits 1 with every config error', () => {
    const config = join(dir, 'bad.yaml')
    writeFileSync(config, 'security_profiles:\n  a:\n    capabilitiez: []\n    network:\n      mode: wide\n')
    const result = run(['--profile', 'a', '--config', config, '--', '/bin/true'])
    expect(result.status).toBe(1)
    const lines = result.stderr.trim().split('\n')
    expect(lines.length).toBe(2)
    expect(lines[0]).toMatch(new RegExp(`^${config}:3:5: security_profiles\\.a\\.capabilitiez: `))
    expect(lines[1]).toMatch(new RegExp(`^${config}:5:13: security_profiles\\.a\\.network\\.mode: `))
  })

  it('exits 2 for an unknown profile', () => {
    const result = run(['--profile', 'nobody', '--', '/bin/true'])
    expect(result.status).toBe(2)
    expect(result.stderr).toMatch(/^blackhole: profile "nobody" not found in .*blackhole\.yaml; known profiles: identity, storage\n/)
  })

  it('exits 2 without a command', () => {
    const result = run(['--profile', 'identity'])
    expect(result.status).toBe(2)
    expect(result.stderr).toMatch(/^blackhole: missing the command to run after --/)
  })
})
