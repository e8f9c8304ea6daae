import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.js'
import { checkRemoteAccess } from '../../src/cli/serve.js'
import { openBlackhole, type Blackhole } from '../../src/server/app.js'
import { tempFolder, type TempFolder } from './server-fixture.js'

const ADMIN_TOKEN = 'bh_test-admin-token-for-the-tls-tests'

interface Pki {
  dir: string
  ca: Buffer
  serverCert: Buffer
  serverKey: Buffer
  clientCert: Buffer
  clientKey: Buffer
  /** A client certificate from a CA the server does not trust. */
  strangerCert: Buffer
  strangerKey: Buffer
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
}

/** Creates a throwaway CA, a server certificate for 127.0.0.1 and client certificates. */
function createPki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'blackhole-tls-'))
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  for (const ca of ['ca', 'stranger-ca']) {
    openssl(dir, 'req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.pem`, '-days', '1', '-subj', `/CN=${ca}`)
  }
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n')
  const issue = (name: string, subject: string, ca: string, ext: string) => {
    openssl(dir, 'req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject)
    openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial',
      '-out', `${name}.pem`, '-days', '1', '-extfile', ext)
  }
  issue('server', '/CN=127.0.0.1', 'ca', 'server.ext')
  issue('client', '/O=Ops/CN=deploy-bot', 'ca', 'client.ext')
  issue('stranger', '/CN=stranger', 'stranger-ca', 'client.ext')
  const read = (file: string) => readFileSync(join(dir, file))
  return {
    dir,
    ca: read('ca.pem'),
    serverCert: read('server.pem'),
    serverKey: read('server.key'),
    clientCert: read('client.pem'),
    clientKey: read('client.key'),
    strangerCert: read('stranger.pem'),
    strangerKey: read('stranger.key'),
  }
}

interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

function send(port: number, options: { ca: Buffer; cert?: Buffer; key?: Buffer; method?: string; path: string; body?: unknown }): Promise<Reply> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path,
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      },
    )
    req.on('error', reject)
    req.end(payload)
  })
}

async function listen(blackhole: Blackhole): Promise<number> {
  await blackhole.app.listen({ host: '127.0.0.1', port: 0 })
  const address = blackhole.app.server.address()
  if (typeof address !== 'object' || address === null) throw new Error('server has no TCP address')
  return address.port
}

describe('TLS', () => {
  let pki: Pki
  let folder: TempFolder

  beforeAll(() => {
    pki = createPki()
    folder = tempFolder()
  })

  afterAll(() => {
    rmSync(pki.dir, { recursive: true, force: true })
    folder?.remove()
  })

  describe('with client certificates', () => {
    let blackhole: Blackhole
    let port: number

    beforeAll(async () => {
      blackhole = await openBlackhole({
        configPath: folder.configPath,
        dataDir: join(folder.dir, 'mtls-data'),
        adminToken: ADMIN_TOKEN,
        logger: false,
        webRoot: null,
        cgroupRoot: `blackhole-unit-${process.pid}`,
        tls: { cert: pki.serverCert, key: pki.serverKey, clientCa: pki.ca },
      })
      port = await listen(blackhole)
    })

    afterAll(async () => {
      await blackhole?.close()
    })

    it('accepts a client certificate from the CA', async () => {
      const reply = await send(port, { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey, path: '/api/v1/services' })
      expect(reply.status).toBe(200)
    })

    it('records the certificate subject in the actor', async () => {
      const reply = await send(port, {
        ca: pki.ca,
        cert: pki.clientCert,
        key: pki.clientKey,
        method: 'POST',
        path: '/api/v1/tokens',
        body: { name: 'from-mtls', role: 'viewer' },
      })
      expect(reply.status).toBe(201)
      const record = blackhole.audit.query({ type: 'TOKEN_CREATED', limit: 1 })[0]!
      expect(record.actor).toBe('cert:O=Ops,CN=deploy-bot/token:admin')
    })

    it('rejects a client without a certificate', async () => {
      await expect(send(port, { ca: pki.ca, path: '/api/v1/services' })).rejects.toThrow()
    })

    it('rejects a certificate from another CA', async () => {
      await expect(send(port, { ca: pki.ca, cert: pki.strangerCert, key: pki.strangerKey, path: '/api/v1/services' })).rejects.toThrow()
    })
  })

  describe('without client certificates', () => {
    let blackhole: Blackhole
    let port: number

    beforeAll(async () => {
      blackhole = await openBlackhole({
        configPath: folder.configPath,
        dataDir: join(folder.dir, 'tls-data'),
        adminToken: ADMIN_TOKEN,
        logger: false,
        webRoot: null,
        cgroupRoot: `blackhole-unit-${process.pid}`,
        tls: { cert: pki.serverCert, key: pki.serverKey },
      })
      port = await listen(blackhole)
    })

    afterAll(async () => {
      await blackhole?.close()
    })

    it('serves a client without a certificate', async () => {
      const reply = await send(port, { ca: pki.ca, path: '/api/v1/services' })
      expect(reply.status).toBe(200)
    })

    it('keeps the plain actor', async () => {
      await send(port, { ca: pki.ca, method: 'POST', path: '/api/v1/tokens', body: { name: 'plain', role: 'viewer' } })
      const record = blackhole.audit.query({ type: 'TOKEN_CREATED', limit: 1 })[0]!
      expect(record.actor).toBe('token:admin')
    })

    it('marks the session cookie Secure', async () => {
      const reply = await send(port, { ca: pki.ca, method: 'POST', path: '/api/v1/auth/login', body: { token: ADMIN_TOKEN } })
      expect(reply.status).toBe(200)
      expect(String(reply.headers['set-cookie'])).toMatch(/; Secure/)
    })
  })

  describe('serve options', () => {
    const capture = () => {
      const output = { stdout: [] as string[], stderr: [] as string[], out: (line: string) => output.stdout.push(line), err: (line: string) => output.stderr.push(line) }
      return output
    }

    it('refuses 0.0.0.0 without TLS before listening', async () => {
      const output = capture()
      expect(await main(['serve', '--host', '0.0.0.0', '--config', folder.configPath, '--data', join(folder.dir, 'refused')], output)).toBe(2)
      expect(output.stderr[0]).toContain('--tls-cert FILE --tls-key FILE')
      expect(output.stdout).toEqual([])
      // The refusal comes before the data folder is created.
      expect(() => readFileSync(join(folder.dir, 'refused', 'blackhole.db'))).toThrow()
    })

    it('decides when remote access is insecure', () => {
      expect(checkRemoteAccess('127.0.0.1', false, false)).toBe(false)
      expect(checkRemoteAccess('::1', false, false)).toBe(false)
      expect(checkRemoteAccess('0.0.0.0', true, false)).toBe(false)
      expect(checkRemoteAccess('0.0.0.0', false, true)).toBe(true)
      expect(() => checkRemoteAccess('192.0.2.10', false, false)).toThrow(/--tls-cert FILE --tls-key FILE/)
    })

    it('needs the key with the certificate', async () => {
      const output = capture()
      expect(await main(['serve', '--tls-cert', join(pki.dir, 'server.pem')], output)).toBe(2)
      expect(output.stderr[0]).toBe('blackhole: --tls-cert FILE and --tls-key FILE go together; give both')
    })

    it('names an unreadable certificate file', async () => {
      const output = capture()
      const missing = join(pki.dir, 'missing.pem')
      expect(await main(['serve', '--tls-cert', missing, '--tls-key', join(pki.dir, 'server.key')], output)).toBe(2)
      expect(output.stderr[0]).toMatch(/^blackhole: cannot read --tls-cert ".*missing\.pem": ENOENT/)
    })
  })
})
