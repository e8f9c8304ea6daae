// The pure parts of the veth setup: interface names, subnet allocation and
// the nftables scripts. The kernel tests cover the links and rules.

import { describe, expect, it } from 'vitest'
import { baseScript, chainNames, serviceScript } from '../../src/sandbox/firewall.js'
import { parseControlLine } from '../../src/sandbox/control-socket.js'
import { allocateSubnet, DEFAULT_VETH_RANGE, leaseFor, parseIpv4Cidr, vethName } from '../../src/sandbox/veth.js'

describe('vethName', () => {
  it('prefixes a short service name', () => {
    expect(vethName('web')).toBe('bh-web')
    expect(vethName('twelve-chars')).toBe('bh-twelve-chars')
  })

  it('shortens a long name to 15 bytes', () => {
    const name = vethName('a-service-with-a-long-name')
    expect(name).toHaveLength(15)
    expect(name).toMatch(/^bh-a-servi-[0-9a-f]{4}$/)
  })

  it('keeps two long names with one prefix apart', () => {
    expect(vethName('a-service-with-a-long-name')).not.toBe(vethName('a-service-with-a-long-tail'))
  })

  it('keeps supervisors under other cgroup parents apart', () => {
    const other = vethName('web.bench-1')
    expect(other).toMatch(/^bh-web-[0-9a-f]{4}$/)
    expect(other).not.toBe(vethName('web'))
    expect(other).not.toBe(vethName('web.bench-2'))
  })
})

describe('allocateSubnet', () => {
  it('takes the first /30 of the range', () => {
    expect(allocateSubnet(DEFAULT_VETH_RANGE, [])).toBe('169.254.128.0/30')
  })

  it('skips subnets in use', () => {
    expect(allocateSubnet(DEFAULT_VETH_RANGE, ['169.254.128.1/30', '169.254.128.4/30'])).toBe('169.254.128.8/30')
  })

  it('skips a subnet that a larger route covers', () => {
    expect(allocateSubnet('10.9.0.0/24', ['10.9.0.0/29'])).toBe('10.9.0.8/30')
  })

  it('never covers the cloud metadata address', () => {
    const used: string[] = []
    for (let start = 128 * 256; start < 169 * 256 + 252; start += 4) {
      used.push(`169.254.${Math.floor(start / 256)}.${start % 256}/30`)
    }
    expect(allocateSubnet(DEFAULT_VETH_RANGE, used)).toBe('169.254.170.0/30')
  })

  it('keeps a preferred subnet that is still free', () => {
    expect(allocateSubnet(DEFAULT_VETH_RANGE, [], '169.254.200.16/30')).toBe('169.254.200.16/30')
  })

  it('ignores a preferred subnet that is taken or outside the range', () => {
    expect(allocateSubnet(DEFAULT_VETH_RANGE, ['169.254.200.17/32'], '169.254.200.16/30')).toBe('169.254.128.0/30')
    expect(allocateSubnet(DEFAULT_VETH_RANGE, [], '10.0.0.0/30')).toBe('169.254.128.0/30')
  })

  it('returns null when the range is exhausted', () => {
    expect(allocateSubnet('10.9.0.0/29', ['10.9.0.0/29'])).toBeNull()
  })

  it('rejects a range smaller than one /30', () => {
    expect(() => allocateSubnet('10.9.0.0/31', [])).toThrow(/smaller than one \/30/)
  })
})

describe('leaseFor', () => {
  it('gives the host the first and the sandbox the second address', () => {
    const lease = leaseFor('web', '169.254.128.4/30')
    expect(lease.hostIfname).toBe('bh-web')
    expect(lease.hostAddress).toBe('169.254.128.5')
    expect(lease.sandboxAddress).toBe('169.254.128.6')
    expect(lease.prefix).toBe(30)
  })
})

describe('parseIpv4Cidr', () => {
  it('reads a bare address as /32', () => {
    expect(parseIpv4Cidr('169.254.169.254')).toEqual({ start: 0xa9fea9fe, size: 1, prefix: 32 })
  })

  it('rejects an invalid address', () => {
    expect(() => parseIpv4Cidr('300.1.1.1/8')).toThrow(/invalid IPv4 address/)
  })
})

describe('nftables scripts', () => {
  it('dispatches from the base chains through maps', () => {
    const script = baseScript()
    expect(script).toContain('add table inet blackhole')
    expect(script).toContain('add rule inet blackhole input iifname vmap @input_from')
    expect(script).toContain('add rule inet blackhole input tcp dport @blocked_ports drop')
    expect(script).not.toMatch(/\bnat\b/)
  })

  it('allows only the listed ports and CIDRs for one interface', () => {
    const script = serviceScript({ ifname: 'bh-web', hostAddress: '169.254.128.1', allowedPorts: [8080, 9090], outbound: ['10.0.0.0/8', 'fd00::/8'] })
    expect(script).toContain('add rule inet blackhole in_bh_web ip daddr 169.254.128.1 tcp dport { 8080, 9090 } accept')
    expect(script).toContain('add rule inet blackhole in_bh_web drop')
    expect(script).toContain('add rule inet blackhole fwd_from_bh_web ip daddr { 10.0.0.0/8 } accept')
    expect(script).toContain('add rule inet blackhole fwd_from_bh_web ip6 daddr { fd00::/8 } accept')
    expect(script).toContain('add element inet blackhole input_from { "bh-web" : jump in_bh_web }')
  })

  it('drops everything but replies without allowed ports', () => {
    const script = serviceScript({ ifname: 'bh-web', hostAddress: '169.254.128.1', allowedPorts: [], outbound: [] })
    expect(script).not.toContain('dport')
    expect(script).not.toContain('daddr')
    expect(script).toContain('add rule inet blackhole in_bh_web ct state established,related accept')
  })

  it('names chains after the interface', () => {
    expect(chainNames('bh-my-app')).toEqual({ input: 'in_bh_my_app', from: 'fwd_from_bh_my_app', to: 'fwd_to_bh_my_app' })
  })
})

describe('parseControlLine', () => {
  it('reads assignments', () => {
    expect(parseControlLine('READY=1')).toEqual({ key: 'READY', value: '1' })
    expect(parseControlLine('STATUS=serving: 3 clients\r')).toEqual({ key: 'STATUS', value: 'serving: 3 clients' })
  })

  it('ignores lines that are not assignments', () => {
    expect(parseControlLine('hello')).toBeNull()
    expect(parseControlLine('ready=1')).toBeNull()
    expect(parseControlLine('')).toBeNull()
  })
})
