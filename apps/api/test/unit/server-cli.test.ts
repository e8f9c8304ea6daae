import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.js'
import type { Output } from '../../src/cli/common.js'
import { openDatabase } from '../../src/db/client.js'
import { openBlackhole } from '../../src/server/app.js'
import { EXAMPLE_CONFIG, tempFolder, type TempFolder } from './server-fixture.js'

interface Captured extends Output {
  stdout: string[]
  stderr: string[]
}

function capture(): Captured {
  const stdout: string[] = []
  const stderr: string[] = []
  return { stdout, stderr, out: (line) => stdout.push(line), err: (line) => stderr.push(line) }
}

const folders: TempFolder[] = []
function newFolder() {
  const folder = tempFolder()
  folders.push(folder)
  return folder
}

afterEach(() => {
  for (const folder of folders.splice(0)) folder.remove()
})

describe('blackhole command line', () => {
  it('prints the usage and exits 2 without a command', async () => {
    const output = capture()
    expect(await main([], output)).toBe(2)
    expect(output.stdout.join('\n')).toMatch(/^Usage: blackhole COMMAND/)
  })

  it('rejects an unknown command', async () => {
    const output = capture()
    expect(await main(['launch'], output)).toBe(2)
    expect(output.stderr[0]).toMatch(/^blackhole: unknown command "launch"/)
  })

  it('prints help for every command', async () => {
    const commands = ['serve', 'run', 'selftest', 'doctor', 'profile', 'audit', 'token', 'user']
    for (const args of commands.map((command) => [command, '--help'])) {
      const output = capture()
      expect(await main(args, output)).toBe(0)
      expect(output.stdout.join('\n')).toMatch(/^Usage:/)
    }
  })

  it('rejects an unknown option', async () => {
    const output = capture()
    expect(await main(['serve', '--prot', '80'], output)).toBe(2)
    expect(output.stderr[0]).toMatch(/^blackhole serve: Unknown option '--prot'/)
  })

  it('refuses a non-loopback host', async () => {
    const output = capture()
    expect(await main(['serve', '--host', '0.0.0.0'], output)).toBe(2)
    expect(output.stderr[0]).toMatch(/^blackhole: --host "0.0.0.0" rejected: it is not a loopback address, and remote access needs TLS\./)
    expect(output.stderr[0]).toContain('--tls-cert FILE --tls-key FILE')
    expect(output.stderr[0]).toContain('--allow-insecure-remote')
  })

  it('rejects a port out of range', async () => {
    const output = capture()
    expect(await main(['serve', '--port', '70000'], output)).toBe(2)
    expect(output.stderr[0]).toBe('blackhole: invalid --port "70000": use a whole number from 0 to 65535')
  })

  it('rejects a negative retention', async () => {
    const output = capture()
    expect(await main(['serve', '--retain-days=-3'], output)).toBe(2)
    expect(output.stderr[0]).toBe('blackhole: invalid --retain-days "-3": use a whole number from 0 to 100000')
  })

  it('rejects a cgroup parent with a slash', async () => {
    const output = capture()
    expect(await main(['serve', '--cgroup-parent', '../escape'], output)).toBe(2)
    expect(output.stderr[0]).toBe('blackhole: invalid --cgroup-parent "../escape": use 1 to 64 letters, digits, . _ - (not starting with .)')
  })

  it('prints every config error for serve and exits 1', async () => {
    const signalListeners = process.listenerCount('SIGTERM')
    const folder = newFolder()
    writeFileSync(folder.configPath, 'security_profiles:\n  a:\n    capabilitiez: []\n  b:\n    network:\n      allowed_ports: [0]\n')
    const output = capture()
    expect(await main(['serve', '--config', folder.configPath, '--data', folder.dataDir, '--port', '0'], output)).toBe(1)
    expect(output.stderr.length).toBe(2)
    expect(output.stderr[0]).toMatch(new RegExp(`^${folder.configPath}:3:5: security_profiles\\.a\\.capabilitiez: unknown key`))
    expect(output.stderr[1]).toMatch(new RegExp(`^${folder.configPath}:6:23: security_profiles\\.b\\.network\\.allowed_ports\\[0\\]: `))
    // serve returned, so it must not keep intercepting signals.
    expect(process.listenerCount('SIGTERM')).toBe(signalListeners)
  })
})

describe('blackhole doctor and selftest', () => {
  it('prints the host facts as JSON', async () => {
    const output = capture()
    const status = await main(['doctor', '--json'], output)
    expect([0, 1]).toContain(status)
    const facts = JSON.parse(output.stdout.join('\n'))
    expect(typeof facts.root).toBe('boolean')
    expect(typeof facts.landlockAbi).toBe('number')
    expect(['v1', 'v2', 'hybrid', 'none']).toContain(facts.cgroups.layout)
  })

  it('needs a profile for selftest', async () => {
    const output = capture()
    expect(await main(['selftest'], output)).toBe(2)
    expect(output.stderr[0]).toBe('blackhole: missing --profile NAME')
  })

  it('rejects an unknown selftest profile', async () => {
    const output = capture()
    expect(await main(['selftest', '--profile', 'nobody', '--config', EXAMPLE_CONFIG], output)).toBe(2)
    expect(output.stderr[0]).toBe(`blackhole: profile "nobody" not found in ${EXAMPLE_CONFIG}; known profiles: identity, storage`)
  })
})

describe('blackhole profile', () => {
  it('validates the example config', async () => {
    const output = capture()
    expect(await main(['profile', 'validate', EXAMPLE_CONFIG], output)).toBe(0)
    expect(output.stdout).toEqual([`${EXAMPLE_CONFIG}: valid (2 profiles, 2 services)`])
  })

  it('reports errors as FILE:LINE:COL', async () => {
    const folder = newFolder()
    writeFileSync(folder.configPath, 'security_profiles:\n  a:\n    user: [1]\n')
    const output = capture()
    expect(await main(['profile', 'validate', folder.configPath], output)).toBe(1)
    expect(output.stderr.length).toBe(1)
    expect(output.stderr[0]).toMatch(new RegExp(`^${folder.configPath}:3:11: security_profiles\\.a\\.user: `))
  })

  it('exports a profile with warnings on stderr', async () => {
    const output = capture()
    expect(await main(['profile', 'export', '--format', 'seccomp', 'identity', '--config', EXAMPLE_CONFIG], output)).toBe(0)
    const seccomp = JSON.parse(output.stdout.join('\n')) as { defaultAction: string }
    expect(typeof seccomp.defaultAction).toBe('string')
    expect(output.stderr.every((line) => line.startsWith('warning: '))).toBe(true)
  })

  it('rejects an unknown export format', async () => {
    const output = capture()
    expect(await main(['profile', 'export', '--format', 'docker', 'identity', '--config', EXAMPLE_CONFIG], output)).toBe(2)
    expect(output.stderr[0]).toBe('blackhole: unknown --format "docker"; use one of apparmor, seccomp, systemd, oci, sbpl, windows')
  })

  it('rejects an unknown profile name', async () => {
    const output = capture()
    expect(await main(['profile', 'score', 'nobody', '--config', EXAMPLE_CONFIG], output)).toBe(2)
    expect(output.stderr[0]).toBe('blackhole: profile "nobody" not found; known profiles: identity, storage')
  })

  it('scores a profile against a threshold', async () => {
    const passing = capture()
    expect(await main(['profile', 'score', 'identity', '--config', EXAMPLE_CONFIG, '--threshold', '10'], passing)).toBe(0)
    const total = /^Overall exposure: (\d+\.\d) /m.exec(passing.stdout.join('\n'))
    expect(total).not.toBeNull()
    const score = Number(total![1])
    expect(score).toBeGreaterThan(0)

    const failing = capture()
    expect(await main(['profile', 'score', 'identity', '--config', EXAMPLE_CONFIG, '--threshold', '0'], failing)).toBe(1)
    expect(failing.stderr.at(-1)).toBe(`blackhole: profile identity scores ${score.toFixed(1)}, above the threshold 0`)
  })
})

describe('blackhole token create', () => {
  it('prints a token once and stores its hash', async () => {
    const folder = newFolder()
    const output = capture()
    expect(await main(['token', 'create', '--name', 'ci', '--role', 'operator', '--data', folder.dataDir], output)).toBe(0)
    const match = /^Token for ci \(operator\), shown once: (bh_\S+)$/.exec(output.stdout[0] ?? '')
    expect(match).not.toBeNull()
    const database = await openDatabase(folder.dataDir)
    try {
      const rows = await database.prisma.apiToken.findMany()
      expect(rows.length).toBe(1)
      expect(rows[0]!.role).toBe('operator')
      expect(rows[0]!.tokenHash).toBe(createHash('sha256').update(match![1]!).digest('hex'))
    } finally {
      await database.close()
    }
  })

  it('rejects an unknown role', async () => {
    const folder = newFolder()
    const output = capture()
    expect(await main(['token', 'create', '--name', 'ci', '--role', 'root', '--data', folder.dataDir], output)).toBe(2)
    expect(output.stderr[0]).toBe('blackhole: invalid --role "root": use one of admin, operator, viewer')
  })
})

describe('blackhole audit verify', () => {
  it('reports an intact log with exit 0', async () => {
    const folder = newFolder()
    const blackhole = await openBlackhole({ configPath: folder.configPath, dataDir: folder.dataDir, logger: false, webRoot: null, cgroupRoot: `blackhole-unit-${process.pid}`, print: () => {} })
    await blackhole.close()
    const output = capture()
    expect(await main(['audit', 'verify', '--data', folder.dataDir], output)).toBe(0)
    expect(output.stdout.join('\n')).toMatch(/^audit log: OK, \d+ records/)
  })

  it('fails for a folder without a log', async () => {
    const folder = newFolder()
    const output = capture()
    expect(await main(['audit', 'verify', '--data', join(folder.dir, 'missing')], output)).toBe(1)
    expect(output.stderr[0]).toMatch(/no audit database at .*missing\/blackhole\.db; pass the data folder with --data DIR$/)
  })
})
