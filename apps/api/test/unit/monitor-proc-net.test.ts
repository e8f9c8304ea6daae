// Parsers for /proc/net socket tables, on fixed lines and on this process's
// own tables with real listening sockets.

import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { describe, expect, it } from 'vitest'
import { classifySockets } from '../../src/monitor/network-monitor.js'
import { decodeAddress, parseInetTable, parseUnixTable } from '../../src/monitor/proc-net.js'

const TCP_HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode'
const TCP6_HEADER =
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode'

describe('decodeAddress', () => {
  it('decodes IPv4 loopback', () => {
    expect(decodeAddress('0100007F')).toBe('127.0.0.1')
  })

  it('decodes IPv4 any and a private address', () => {
    expect(decodeAddress('00000000')).toBe('0.0.0.0')
    expect(decodeAddress('0101A8C0')).toBe('192.168.1.1')
  })

  it('decodes IPv6 loopback and any', () => {
    expect(decodeAddress('00000000000000000000000001000000')).toBe('::1')
    expect(decodeAddress('00000000000000000000000000000000')).toBe('::')
  })

  it('decodes IPv6 link-local', () => {
    expect(decodeAddress('000080FE000000000000000001000000')).toBe('fe80::1')
  })

  it('decodes a documentation IPv6 address', () => {
    expect(decodeAddress('B80D0120000000002E8A000034737003')).toBe('2001:db8::8a2e:370:7334')
  })

  it('keeps IPv4-mapped IPv6 dotted', () => {
    expect(decodeAddress('0000000000000000FFFF00000100007F')).toBe('::ffff:127.0.0.1')
  })

  it('rejects a wrong length', () => {
    expect(() => decodeAddress('0100')).toThrow(/expected 8 or 32 hex digits/)
  })
})

describe('parseInetTable', () => {
  it('parses a TCP listener and a connection', () => {
    const text = [
      TCP_HEADER,
      '   0: 0100007F:C351 00000000:0000 0A 00000000:00000000 00:00000000 00000000 61999        0 123456 1 0000000000000000 100 0 0 10 0',
      '   1: 0100007F:C351 0100007F:D431 01 00000000:00000000 00:00000000 00000000 61999        0 123457 1 0000000000000000 20 4 30 10 -1',
      '',
    ].join('\n')
    const sockets = parseInetTable(text, 'tcp')
    expect(sockets).toHaveLength(2)
    expect(sockets[0]).toEqual({
      protocol: 'tcp', localAddress: '127.0.0.1', localPort: 50001, remoteAddress: '0.0.0.0', remotePort: 0,
      state: 'LISTEN', uid: 61999, inode: 123456,
    })
    expect(sockets[1]!.state).toBe('ESTABLISHED')
    expect(sockets[1]!.remotePort).toBe(0xd431)
  })

  it('parses a TCP6 listener on ::1', () => {
    const text = [
      TCP6_HEADER,
      '   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 99 1 0000000000000000 100 0 0 10 0',
    ].join('\n')
    const [socket] = parseInetTable(text, 'tcp6')
    expect(socket!.localAddress).toBe('::1')
    expect(socket!.localPort).toBe(8080)
    expect(socket!.state).toBe('LISTEN')
  })

  it('skips malformed lines', () => {
    const text = [TCP_HEADER, '   0: garbage', '   1: 0100007F 00000000:0000 0A 0 0 0 0 0 1 1'].join('\n')
    expect(parseInetTable(text, 'tcp')).toEqual([])
  })

  it('finds this process listening on loopback', async () => {
    const servers: Server[] = []
    try {
      const v4 = createServer().listen(0, '127.0.0.1')
      servers.push(v4)
      await once(v4, 'listening')
      const port = (v4.address() as { port: number }).port
      const sockets = parseInetTable(readFileSync('/proc/self/net/tcp', 'utf8'), 'tcp')
      const found = sockets.find((socket) => socket.localPort === port && socket.state === 'LISTEN')
      expect(found?.localAddress).toBe('127.0.0.1')
    } finally {
      for (const server of servers) server.close()
    }
  })

  it('finds this process listening on ::1', async () => {
    const server = createServer()
    try {
      server.listen(0, '::1')
      const [error] = await Promise.race([once(server, 'listening').then(() => [null]), once(server, 'error')])
      if (error !== null) return expect((error as NodeJS.ErrnoException).code).toBe('EADDRNOTAVAIL')
      const port = (server.address() as { port: number }).port
      const sockets = parseInetTable(readFileSync('/proc/self/net/tcp6', 'utf8'), 'tcp6')
      const found = sockets.find((socket) => socket.localPort === port && socket.state === 'LISTEN')
      expect(found?.localAddress).toBe('::1')
    } finally {
      server.close()
    }
  })
})

describe('parseUnixTable', () => {
  const header = 'Num       RefCount Protocol Flags    Type St Inode Path'

  it('parses listening, connected and abstract sockets', () => {
    const text = [
      header,
      '0000000000000000: 00000002 00000000 00010000 0001 01 5001 /run/app/control.sock',
      '0000000000000000: 00000003 00000000 00000000 0001 03 5002 /run/app/control.sock',
      '0000000000000000: 00000002 00000000 00000000 0002 01 5003 @abstract name',
      '0000000000000000: 00000003 00000000 00000000 0001 03 5004',
    ].join('\n')
    const sockets = parseUnixTable(text)
    expect(sockets).toHaveLength(4)
    expect(sockets[0]).toEqual({ protocol: 'unix', path: '/run/app/control.sock', type: 'stream', listening: true, connected: false, inode: 5001 })
    expect(sockets[1]!.connected).toBe(true)
    expect(sockets[1]!.listening).toBe(false)
    expect(sockets[2]!.path).toBe('@abstract name')
    expect(sockets[2]!.type).toBe('dgram')
    expect(sockets[3]!.path).toBe('')
  })
})

describe('classifySockets', () => {
  it('separates listeners from connections', () => {
    const inet = parseInetTable([
      TCP_HEADER,
      '   0: 0100007F:C351 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1 1',
      '   1: 0100007F:C351 0100007F:D431 01 00000000:00000000 00:00000000 00000000 0 0 2 1',
      '   2: 0100007F:C352 0100007F:D432 06 00000000:00000000 00:00000000 00000000 0 0 3 1',
    ].join('\n'), 'tcp')
    const udp = parseInetTable([
      TCP_HEADER,
      '   0: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 4 1',
      '   1: 0100007F:9C40 0100007F:0035 01 00000000:00000000 00:00000000 00000000 0 0 5 1',
      '   2: 00000000:0000 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 6 1',
    ].join('\n'), 'udp')
    const unix = parseUnixTable('h\n0: 00000002 00000000 00010000 0001 01 7 /run/a.sock\n0: 00000003 00000000 00000000 0001 03 8 /run/a.sock')
    const { listeners, connections } = classifySockets([...inet, ...udp], unix)
    expect(listeners.map((l) => `${l.protocol} ${l.address} ${l.port}`)).toEqual([
      'tcp 127.0.0.1 50001', 'udp 0.0.0.0 53', 'unix /run/a.sock 0',
    ])
    expect(connections.map((c) => `${c.protocol} ${c.remoteAddress}:${c.remotePort}`)).toEqual([
      'tcp 127.0.0.1:54321', 'udp 127.0.0.1:53', 'unix :0',
    ])
  })
})
