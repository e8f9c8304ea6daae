import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { readFileSync } from 'node:fs'
import { DEFAULTS, formatError, loadConfigFile, parseConfig, type Profile } from '@blackhole/policy'

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')

function errorsOf(text: string): string[] {
  const result = parseConfig(text, 'test.yaml')
  if (result.ok) throw new Error('expected the config to be rejected')
  return result.errors.map(formatError)
}

/** Wraps profile YAML (indented by 4) in a config with one profile named p. */
function profile(body: string): string {
  return `security_profiles:\n  p:\n${body.replace(/^/gm, '    ')}\n`
}

describe('example profiles', () => {
  const result = parseConfig(fixture('example-profiles.yaml'), 'example-profiles.yaml')
  if (!result.ok) throw new Error(result.errors.map(formatError).join('\n'))
  const { profiles } = result.config

  test('identity profile is exact', () => {
    const expected: Profile = {
      name: 'identity',
      extends: null,
      user: 'blackhole_identity',
      group: 'blackhole_services',
      enforceMode: 'enforce',
      capabilities: ['CAP_NET_BIND_SERVICE'],
      syscalls: { allowed: [], denied: [] },
      filesystem: {
        readOnlyRoot: true,
        writablePaths: [
          { path: '/var/run/blackhole/identity', sizeBytes: null },
          { path: '/var/log/blackhole/identity', sizeBytes: null },
        ],
        dataPaths: [],
        fileAccess: [],
        deniedPaths: [],
      },
      network: { mode: 'none', allowLocalhost: true, allowUnixSockets: true, allowedPorts: [50001], outbound: [], listen: [] },
      resourceLimits: { maxMemory: 1_000_000_000, maxCpu: null, maxFileDescriptors: 4096, maxProcesses: 100, maxTmpfs: 64 * 1024 ** 2 },
      environment: { allow: [], set: {} },
    }
    expect(profiles['identity']).toEqual(expected)
  })

  test('storage profile is exact', () => {
    const storage = profiles['storage']
    expect(storage?.capabilities).toEqual(['CAP_NET_BIND_SERVICE', 'CAP_SYS_RESOURCE'])
    expect(storage?.filesystem.writablePaths.map((w) => w.path)).toEqual([
      '/var/run/blackhole/storage',
      '/var/log/blackhole/storage',
      '/var/data/blackhole/storage',
    ])
    expect(storage?.network.allowedPorts).toEqual([50002])
    expect(storage?.resourceLimits.maxMemory).toBe(4_000_000_000)
    expect(storage?.resourceLimits.maxFileDescriptors).toBe(8192)
    expect(storage?.resourceLimits.maxProcesses).toBe(200)
    expect(storage?.user).toBe('blackhole_storage')
  })

  test('config hash is sha256 of text', () => {
    expect(result.config.sha256).toMatch(/^[0-9a-f]{64}$/)
  })
})

describe('defaults', () => {
  test('empty profile takes strictest defaults', () => {
    const result = parseConfig('security_profiles:\n  bare: {}\n', 'test.yaml')
    if (!result.ok) throw new Error('rejected')
    const bare = result.config.profiles['bare']
    expect(bare?.enforceMode).toBe('enforce')
    expect(bare?.capabilities).toEqual([])
    expect(bare?.filesystem.readOnlyRoot).toBe(true)
    expect(bare?.network.mode).toBe('none')
    expect(bare?.network.allowLocalhost).toBe(false)
    expect(bare?.network.allowUnixSockets).toBe(false)
    expect(bare?.resourceLimits.maxMemory).toBe(DEFAULTS.maxMemory)
    expect(bare?.resourceLimits.maxFileDescriptors).toBe(1024)
    expect(bare?.resourceLimits.maxProcesses).toBe(64)
    expect(bare?.resourceLimits.maxTmpfs).toBe(64 * 1024 ** 2)
    expect(bare?.resourceLimits.maxCpu).toBeNull()
  })

  test('empty file is an empty config', () => {
    const result = parseConfig('', 'test.yaml')
    expect(result.ok).toBe(true)
  })
})

describe('rejected input', () => {
  test('unknown key suggests closest', () => {
    expect(errorsOf(profile('network:\n  allowed_port: [80]'))).toEqual([
      'test.yaml:4:7: security_profiles.p.network.allowed_port: unknown key "allowed_port" (did you mean "allowed_ports"?); expected one of allow_localhost, allow_unix_sockets, allowed_ports, listen, mode, outbound',
    ])
  })

  test('typo never widens', () => {
    expect(errorsOf(profile('capabilitiez:\n  - CAP_SYS_ADMIN'))).toEqual([
      'test.yaml:3:5: security_profiles.p.capabilitiez: unknown key "capabilitiez" (did you mean "capabilities"?); expected one of capabilities, enforce_mode, environment, extends, filesystem, group, network, resource_limits, syscalls, user',
    ])
  })

  test('root user rejected', () => {
    expect(errorsOf(profile('user: root\ngroup: root'))).toEqual([
      'test.yaml:3:11: security_profiles.p.user: user root is not allowed: a sandboxed service never runs with id 0; name an unprivileged account, or leave user out for a dynamic one',
      'test.yaml:4:12: security_profiles.p.group: group root is not allowed: a sandboxed service never runs with id 0; name an unprivileged account, or leave group out for a dynamic one',
    ])
  })

  test('unknown top-level key', () => {
    expect(errorsOf('service:\n  a: {}\n')).toEqual([
      'test.yaml:1:1: service: unknown key "service" (did you mean "services"?); expected one of security_profiles, services',
    ])
  })

  test('duplicate key', () => {
    expect(errorsOf(profile('user: a\nuser: b'))).toEqual([
      'test.yaml:4:5: security_profiles.p.user: duplicate key "user"; each key may appear only once in a map',
    ])
  })

  test('string where list expected', () => {
    expect(errorsOf(profile('filesystem:\n  writable_paths: /var/log'))).toEqual([
      'test.yaml:4:23: security_profiles.p.filesystem.writable_paths: expected a list of paths, got the string "/var/log"',
    ])
  })

  test('boolean as a port', () => {
    expect(errorsOf(profile('network:\n  allowed_ports: [true]'))).toEqual([
      'test.yaml:4:23: security_profiles.p.network.allowed_ports[0]: expected an integer from 1 to 65535, got the boolean true',
    ])
  })

  test('port 0 and 65536', () => {
    expect(errorsOf(profile('network:\n  allowed_ports: [0, 65536]'))).toEqual([
      'test.yaml:4:23: security_profiles.p.network.allowed_ports[0]: invalid value 0; expected an integer from 1 to 65535',
      'test.yaml:4:26: security_profiles.p.network.allowed_ports[1]: invalid value 65536; expected an integer from 1 to 65535',
    ])
  })

  test('negative and zero limits', () => {
    expect(errorsOf(profile('resource_limits:\n  max_processes: -1\n  max_file_descriptors: 0'))).toEqual([
      'test.yaml:4:22: security_profiles.p.resource_limits.max_processes: invalid value -1; expected an integer from 1 to 4194304',
      'test.yaml:5:29: security_profiles.p.resource_limits.max_file_descriptors: invalid value 0; expected an integer from 1 to 1048576',
    ])
  })

  test('bad sizes', () => {
    const help = 'expected a positive whole number of bytes or a size such as 512MiB; KiB/MiB/GiB/TiB and K/M/G/T are powers of 1024, KB/MB/GB/TB are powers of 1000'
    expect(errorsOf(profile('resource_limits:\n  max_memory: 12XB\n  max_tmpfs: 0'))).toEqual([
      `test.yaml:4:19: security_profiles.p.resource_limits.max_memory: invalid size "12XB": unknown unit "XB"; ${help}`,
      `test.yaml:5:18: security_profiles.p.resource_limits.max_tmpfs: invalid size 0: must be greater than zero; ${help}`,
    ])
  })

  test('relative path', () => {
    expect(errorsOf(profile('filesystem:\n  denied_paths: [etc/shadow]'))).toEqual([
      'test.yaml:4:22: security_profiles.p.filesystem.denied_paths[0]: invalid path "etc/shadow": expected an absolute path starting with /',
    ])
  })

  test('dot-dot segment', () => {
    expect(errorsOf(profile('filesystem:\n  writable_paths: [/var/../etc]'))).toEqual([
      'test.yaml:4:24: security_profiles.p.filesystem.writable_paths[0]: invalid path "/var/../etc": ".." segments are not allowed; write the resolved path',
    ])
  })

  test('unnormalised paths', () => {
    expect(errorsOf(profile('filesystem:\n  denied_paths: [/a//b, /a/b/, /a/./b]'))).toEqual([
      'test.yaml:4:22: security_profiles.p.filesystem.denied_paths[0]: invalid path "/a//b": not normalised; write "/a/b"',
      'test.yaml:4:29: security_profiles.p.filesystem.denied_paths[1]: invalid path "/a/b/": not normalised; write "/a/b"',
      'test.yaml:4:36: security_profiles.p.filesystem.denied_paths[2]: invalid path "/a/./b": not normalised; write "/a/b"',
    ])
  })

  test('writable root and kernel filesystems', () => {
    expect(errorsOf(profile('filesystem:\n  writable_paths: [/, /sys/fs]'))).toEqual([
      'test.yaml:4:24: security_profiles.p.filesystem.writable_paths[0]: writable path "/" is not allowed; set filesystem.read_only_root: false to make the root writable',
      'test.yaml:4:27: security_profiles.p.filesystem.writable_paths[1]: writable path "/sys/fs" is on the kernel filesystem /sys; /proc, /sys and /dev cannot be writable',
    ])
  })

  test('path writable and denied', () => {
    expect(errorsOf(profile('filesystem:\n  writable_paths: [/srv/data, /srv/x/y]\n  denied_paths: [/srv/data, /srv/x]'))).toEqual([
      'test.yaml:4:24: security_profiles.p.filesystem.writable_paths[0]: writable path "/srv/data" is also denied; remove one of them',
      'test.yaml:4:35: security_profiles.p.filesystem.writable_paths[1]: writable path "/srv/x/y" is inside denied path "/srv/x"; remove one of them',
    ])
  })

  test('data path also writable', () => {
    expect(errorsOf(profile('filesystem:\n  writable_paths: [/var/run/app]\n  data_paths: [/run/app]'))).toEqual([
      'test.yaml:5:20: security_profiles.p.filesystem.data_paths[0]: data path "/run/app" is also a writable path; list it once (data paths are writable and persistent)',
    ])
  })

  test('denied path inside writable', () => {
    expect(errorsOf(profile('filesystem:\n  writable_paths: [/srv]\n  denied_paths: [/srv/secret]'))).toEqual([
      'test.yaml:5:22: security_profiles.p.filesystem.denied_paths[0]: denied path "/srv/secret" is inside writable path "/srv", where it cannot be enforced; remove one of them',
    ])
  })

  test('denied path in private mount', () => {
    expect(errorsOf(profile('filesystem:\n  denied_paths: [/var/run/secrets, /proc/kallsyms]'))).toEqual([
      'test.yaml:4:22: security_profiles.p.filesystem.denied_paths[0]: denied path "/var/run/secrets" is inside /run, which the sandbox replaces with its own mount; only paths on the host root can be denied',
      'test.yaml:4:40: security_profiles.p.filesystem.denied_paths[1]: denied path "/proc/kallsyms" is inside /proc, which the sandbox replaces with its own mount; only paths on the host root can be denied',
    ])
  })

  test('syscall allowed and denied', () => {
    expect(errorsOf(profile('syscalls:\n  allowed: [ptrace]\n  denied: [ptrace]'))).toEqual([
      'test.yaml:4:17: security_profiles.p.syscalls.allowed[0]: syscall "ptrace" is both allowed and denied (see security_profiles.p.syscalls.denied[0]); keep it in one list',
    ])
  })

  test('default denied syscall cannot be allowed', () => {
    expect(errorsOf(profile('syscalls:\n  allowed: [mount]'))).toEqual([
      'test.yaml:4:17: security_profiles.p.syscalls.allowed[0]: syscall "mount" is denied in every profile and cannot be allowed; only ptrace, personality, socket can be opted into',
    ])
  })

  test('unknown syscall with suggestions', () => {
    expect(errorsOf(profile('syscalls:\n  denied: [ptrac, {name: opneat, errno: EACCES}]'))).toEqual([
      'test.yaml:4:16: security_profiles.p.syscalls.denied[0]: unknown syscall "ptrac" (not in the x86_64 or aarch64 table); did you mean "ptrace"?',
      'test.yaml:4:30: security_profiles.p.syscalls.denied[1].name: unknown syscall "opneat" (not in the x86_64 or aarch64 table); did you mean "openat"?',
    ])
  })

  test('unknown errno', () => {
    expect(errorsOf(profile('syscalls:\n  denied: [{name: read, errno: EPREM}]'))).toEqual([
      'test.yaml:4:36: security_profiles.p.syscalls.denied[0].errno: unknown errno "EPREM"; did you mean "EPERM"?',
    ])
  })

  test('unknown capability', () => {
    expect(errorsOf(profile('capabilities: [net_bind]'))).toEqual([
      'test.yaml:3:20: security_profiles.p.capabilities[0]: unknown capability "net_bind"; did you mean "CAP_NET_BIND_SERVICE", "CAP_NET_ADMIN" or "CAP_NET_RAW"?',
    ])
  })

  test('capability names canonicalised', () => {
    const result = parseConfig(profile('capabilities: [net_bind_service, Cap_Net_Raw, CAP_KILL]'), 'test.yaml')
    if (!result.ok) throw new Error('rejected')
    expect(result.config.profiles['p']?.capabilities).toEqual(['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW'])
  })

  test('LD_PRELOAD in environment', () => {
    expect(errorsOf(profile('environment:\n  set: {LD_PRELOAD: /tmp/x.so}\n  allow: [NODE_OPTIONS]'))).toEqual([
      'test.yaml:4:13: security_profiles.p.environment.set.LD_PRELOAD: environment variable "LD_PRELOAD" is not allowed because it makes programs load or run extra code',
      'test.yaml:5:15: security_profiles.p.environment.allow[0]: environment variable "NODE_OPTIONS" is not allowed because it makes programs load or run extra code',
    ])
  })

  test('newline in a value', () => {
    expect(errorsOf(profile('environment:\n  set: {GREETING: "hi\\nthere"}'))).toEqual([
      'test.yaml:4:23: security_profiles.p.environment.set.GREETING: value of environment variable "GREETING" contains a newline or NUL character',
    ])
  })

  test('extends cycle', () => {
    expect(errorsOf('security_profiles:\n  a: {extends: b}\n  b: {extends: a}\n')).toEqual([
      'test.yaml:3:16: security_profiles.b.extends: extends cycle: a -> b -> a',
    ])
  })

  test('extends unknown', () => {
    expect(errorsOf('security_profiles:\n  base: {}\n  a: {extends: bsae}\n')).toEqual([
      'test.yaml:3:16: security_profiles.a.extends: extends unknown profile "bsae"; did you mean "base"?',
    ])
  })

  test('custom tags', () => {
    expect(errorsOf(profile('user: !custom alice\ngroup: !!js/function "f"'))).toEqual([
      'test.yaml:3:19: security_profiles.p.user: tag "!custom" is not allowed; remove it',
      'test.yaml:4:26: security_profiles.p.group: tag "!!js/function" is not allowed; remove it',
    ])
  })

  test('billion laughs rejected quickly', () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for (let i = 1; i < 10; i++) {
      const previous = String.fromCharCode(96 + i)
      const name = String.fromCharCode(97 + i)
      levels.push(`${name}: &${name} [${Array(10).fill(`*${previous}`).join(',')}]`)
    }
    const started = performance.now()
    const errors = errorsOf(`security_profiles:\n  p:\n    x:\n${levels.map((l) => `      ${l}`).join('\n')}\n`)
    const elapsed = performance.now() - started
    expect(errors).toEqual([
      'test.yaml:5:14: too many YAML alias expansions (limit 100); the file looks like an entity-expansion attack, write the values out',
    ])
    expect(elapsed).toBeLessThan(1000)
  })

  test('deep nesting rejected quickly', () => {
    const limit = DEFAULTS.maxConfigBytes - 16
    const cases = [
      { text: `a: 1\nb: ${'['.repeat(limit)}`, at: 'test.yaml:2:68' },
      { text: `${'{'.repeat(limit)}`, at: 'test.yaml:1:65' },
      { text: `a:\n  ${'- '.repeat(limit / 2)}`, at: 'test.yaml:2:1' },
      { text: `${'? '.repeat(limit / 2)}`, at: 'test.yaml:1:1' },
    ]
    for (const { text, at } of cases) {
      const started = performance.now()
      expect(errorsOf(text)).toEqual([`${at}: YAML nested more than 64 levels deep; flatten the structure`])
      expect(performance.now() - started).toBeLessThan(1000)
    }
  })

  test('brackets in strings not counted', () => {
    const result = parseConfig(`security_profiles:\n  p:\n    user: "${'['.repeat(100)}"\n`, 'test.yaml')
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.errors.map((e) => e.message)).toEqual([
      `invalid user name "${'['.repeat(100)}"; expected lower-case letters, digits, _ or -, at most 32 characters`,
    ])
  })

  test('error list is capped', () => {
    const ports = Array.from({ length: 250 }, () => '0').join(', ')
    const errors = errorsOf(profile(`network:\n  allowed_ports: [${ports}]`))
    expect(errors.length).toBe(201)
    expect(errors[0]).toBe('test.yaml:4:23: security_profiles.p.network.allowed_ports[0]: invalid value 0; expected an integer from 1 to 65535')
    expect(errors[200]).toBe('test.yaml:4:620: 50 more errors not shown; fix the ones above first')
  })

  test('oversize text', () => {
    const text = `# ${'x'.repeat(DEFAULTS.maxConfigBytes)}\n`
    expect(errorsOf(text)).toEqual([
      `test.yaml:1:1: config file is ${DEFAULTS.maxConfigBytes + 3} bytes, larger than the limit of 262144 bytes; split it or remove unused entries`,
    ])
  })

  test('several errors in position order', () => {
    const errors = errorsOf(profile('network:\n  mode: bridge\ncapabilities: [CAP_NOPE]\nuser: 5'))
    expect(errors).toEqual([
      'test.yaml:4:13: security_profiles.p.network.mode: invalid value "bridge"; expected one of none, veth, host',
      'test.yaml:5:20: security_profiles.p.capabilities[0]: unknown capability "CAP_NOPE"',
      'test.yaml:6:11: security_profiles.p.user: expected an account name, got the number 5',
    ])
  })
})

describe('extends', () => {
  test('child replaces fields, lists replace', () => {
    const text = [
      'security_profiles:',
      '  base:',
      '    capabilities: [CAP_KILL]',
      '    network: {allowed_ports: [80, 443], allow_localhost: true}',
      '    resource_limits: {max_processes: 10}',
      '  child:',
      '    extends: base',
      '    network: {allowed_ports: [8080]}',
      '',
    ].join('\n')
    const result = parseConfig(text, 'test.yaml')
    if (!result.ok) throw new Error(result.errors.map(formatError).join('\n'))
    const child = result.config.profiles['child']
    expect(child?.extends).toBe('base')
    expect(child?.capabilities).toEqual(['CAP_KILL'])
    expect(child?.network.allowedPorts).toEqual([8080])
    expect(child?.network.allowLocalhost).toBe(true)
    expect(child?.resourceLimits.maxProcesses).toBe(10)
  })
})

describe('values', () => {
  test('sizes, cpu, listen and outbound', () => {
    const text = profile([
      'resource_limits: {max_memory: 512MiB, max_tmpfs: 1G, max_cpu: 50%}',
      'filesystem: {writable_paths: [{path: /srv/cache, size: 10MB}], file_access: [{path: /etc/app, mode: rx}]}',
      'network:',
      '  outbound: [10.0.0.0/8, "2001:db8::1", 192.0.2.7]',
      '  listen: [tcp:8080, "tcp:[::1]:9090", {socket: unix:/run/app.sock, name: api}]',
    ].join('\n'))
    const result = parseConfig(text, 'test.yaml')
    if (!result.ok) throw new Error(result.errors.map(formatError).join('\n'))
    const p = result.config.profiles['p']
    expect(p?.resourceLimits.maxMemory).toBe(512 * 1024 ** 2)
    expect(p?.resourceLimits.maxTmpfs).toBe(1024 ** 3)
    expect(p?.resourceLimits.maxCpu).toBe(0.5)
    expect(p?.filesystem.writablePaths).toEqual([{ path: '/srv/cache', sizeBytes: 10_000_000 }])
    expect(p?.filesystem.fileAccess).toEqual([{ path: '/etc/app', mode: 'rx' }])
    expect(p?.network.outbound).toEqual(['10.0.0.0/8', '2001:db8::1/128', '192.0.2.7/32'])
    expect(p?.network.listen).toEqual([
      { kind: 'tcp', port: 8080, host: null, name: 'tcp-8080' },
      { kind: 'tcp', port: 9090, host: '::1', name: 'tcp-9090' },
      { kind: 'unix', path: '/run/app.sock', name: 'api' },
    ])
  })

  test('bad outbound and listen', () => {
    expect(errorsOf(profile('network:\n  outbound: [10.0.0.300, 10.0.0.0/33]\n  listen: [udp:53]'))).toEqual([
      'test.yaml:4:18: security_profiles.p.network.outbound[0]: invalid address "10.0.0.300"; expected an IPv4 or IPv6 address, optionally with a /prefix (for example 10.0.0.0/8 or 2001:db8::/32)',
      'test.yaml:4:30: security_profiles.p.network.outbound[1]: invalid prefix length "/33" in "10.0.0.0/33"; expected 0 to 32',
      'test.yaml:5:16: security_profiles.p.network.listen[0]: invalid listen socket "udp:53"; expected tcp:PORT, tcp:HOST:PORT or unix:/absolute/path',
    ])
  })
})

describe('services', () => {
  const base = 'security_profiles:\n  web: {filesystem: {writable_paths: [/srv/data]}}\nservices:\n'

  test('service parsed with defaults', () => {
    const result = parseConfig(`${base}  api:\n    profile: web\n    command: node\n    args: [server.js]\n    persistent_paths: [/srv/data]\n`, '/etc/blackhole/config.yaml')
    if (!result.ok) throw new Error(result.errors.map(formatError).join('\n'))
    expect(result.config.services['api']).toEqual({
      name: 'api',
      profile: 'web',
      command: 'node',
      args: ['server.js'],
      workingDirectory: '/etc/blackhole',
      environment: {},
      restart: 'no',
      persistentPaths: ['/srv/data'],
      autostart: true,
    })
  })

  test('service errors', () => {
    expect(errorsOf(`${base}  API:\n    profile: web\n  api:\n    profile: wbe\n    command: ./run\n    persistent_paths: [/srv/other]\n`)).toEqual([
      'test.yaml:4:3: services.API: invalid service name "API"; expected a lower-case letter, then up to 31 lower-case letters, digits or -',
      'test.yaml:7:14: services.api.profile: unknown profile "wbe"; did you mean "web"?',
      'test.yaml:8:14: services.api.command: invalid command "./run": expected an absolute path or a bare program name looked up in PATH',
    ])
  })
})

describe('loadConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'policy-load-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  test('oversize file rejected', async () => {
    const path = join(dir, 'big.yaml')
    writeFileSync(path, 'x'.repeat(DEFAULTS.maxConfigBytes + 1))
    const result = await loadConfigFile(path)
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.errors.map(formatError)).toEqual([
      `${path}:1:1: config file is 262145 bytes, larger than the limit of 262144 bytes; split it or remove unused entries`,
    ])
  })

  test('endless device rejected', async () => {
    const result = await loadConfigFile('/dev/zero')
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.errors.map(formatError)).toEqual([
      '/dev/zero:1:1: config file is larger than the limit of 262144 bytes; split it or remove unused entries',
    ])
  })

  test('file read and parsed', async () => {
    const path = join(dir, 'ok.yaml')
    writeFileSync(path, fixture('example-profiles.yaml'))
    const result = await loadConfigFile(path)
    expect(result.ok).toBe(true)
  })
})
