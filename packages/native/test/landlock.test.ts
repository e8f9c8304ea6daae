import { describe, expect, it } from 'vitest'
import { TEST_GID, TEST_UID, baseSpec, runSandbox } from './helpers.js'

// From linux/landlock.h.
const ACCESS_FS_WRITE_FILE = 1 << 1
const ACCESS_FS_MAKE_REG = 1 << 8
const ACCESS_NET_BIND_TCP = 1 << 0

const PROBE = `
import errno, json, socket
result = {}
def attempt(name, action):
    try:
        action()
        result[name] = 'ok'
    except OSError as error:
        result[name] = errno.errorcode[error.errno]
def write(path):
    with open(path, 'w') as file:
        file.write('x')
def bind(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(('127.0.0.1', port))
    finally:
        sock.close()
attempt('writeAllowed', lambda: write('/tmp/allowed/file'))
attempt('writeDenied', lambda: write('/tmp/denied'))
attempt('bindAllowed', lambda: bind(50011))
attempt('bindDenied', lambda: bind(50012))
print(json.dumps(result))
`

describe('Landlock rules', () => {
  it('allows only the listed path and port', async () => {
    const spec = baseSpec({
      file: '/usr/bin/python3',
      argv: ['python3', '-c', PROBE],
      mounts: [
        ...baseSpec().mounts,
        { type: 'tmpfs', target: '/tmp/allowed', sizeBytes: 1 << 20, mode: 0o700, uid: TEST_UID, gid: TEST_GID, readOnly: false },
      ],
      landlock: {
        minAbi: 4,
        handledAccessFs: ACCESS_FS_WRITE_FILE | ACCESS_FS_MAKE_REG,
        handledAccessNet: ACCESS_NET_BIND_TCP,
        scoped: 0,
        pathRules: [{ path: '/tmp/allowed', access: ACCESS_FS_WRITE_FILE | ACCESS_FS_MAKE_REG }],
        netRules: [{ port: 50011, access: ACCESS_NET_BIND_TCP }],
        restrictFlags: 0,
      },
    })
    const run = await runSandbox(spec)
    expect(run.stderr).toBe('')
    const result = JSON.parse(run.stdout) as Record<string, string>
    expect(result.writeAllowed).toBe('ok')
    expect(result.writeDenied).toBe('EACCES')
    expect(result.bindAllowed).toBe('ok')
    expect(result.bindDenied).toBe('EACCES')
  })

  it('leaves everything allowed without a ruleset', async () => {
    const spec = baseSpec({ file: '/usr/bin/python3', argv: ['python3', '-c', PROBE] })
    const run = await runSandbox({
      ...spec,
      mounts: [
        ...spec.mounts,
        { type: 'tmpfs', target: '/tmp/allowed', sizeBytes: 1 << 20, mode: 0o700, uid: TEST_UID, gid: TEST_GID, readOnly: false },
      ],
    })
    const result = JSON.parse(run.stdout) as Record<string, string>
    expect(result.writeDenied).toBe('ok')
    expect(result.bindDenied).toBe('ok')
  })
})
