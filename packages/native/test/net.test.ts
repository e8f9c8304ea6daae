import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { closeFd, pidfdSendSignal, setLinkUp, spawnSandbox, watchExit } from '@blackhole/native'
import { baseSpec } from './helpers.js'

// Reads the flags of lo from the sandbox's network namespace with iproute2,
// independently of the addon.
function loopbackFlags(pid: number): string {
  return execFileSync('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', '-o', 'link', 'show', 'lo'], { encoding: 'utf8' })
}

describe('setLinkUp', () => {
  it('toggles lo in the sandbox network namespace', async () => {
    const child = spawnSandbox(baseSpec({ argv: ['sh', '-c', 'sleep 30'] }))
    const exited = new Promise((resolve) => watchExit(child.pidfd, resolve))
    try {
      expect(loopbackFlags(child.pid)).toMatch(/<[^>]*\bUP\b[^>]*>/)
      setLinkUp(child.pid, 'lo', false)
      expect(loopbackFlags(child.pid)).not.toMatch(/<[^>]*\bUP\b[^>]*>/)
      setLinkUp(child.pid, 'lo', true)
      expect(loopbackFlags(child.pid)).toMatch(/<[^>]*\bUP\b[^>]*>/)
      // The host's own lo is untouched: the JavaScript thread never left its namespace.
      expect(execFileSync('ip', ['-o', 'link', 'show', 'lo'], { encoding: 'utf8' })).toMatch(/<[^>]*\bUP\b[^>]*>/)
    } finally {
      pidfdSendSignal(child.pidfd, 'SIGKILL')
      await exited
      closeFd(child.pidfd)
    }
  })

  it('leaves lo down when loopbackUp is false', async () => {
    const child = spawnSandbox(baseSpec({ argv: ['sh', '-c', 'sleep 30'], network: { mode: 'none', loopbackUp: false } }))
    const exited = new Promise((resolve) => watchExit(child.pidfd, resolve))
    try {
      expect(loopbackFlags(child.pid)).not.toMatch(/<[^>]*\bUP\b[^>]*>/)
    } finally {
      pidfdSendSignal(child.pidfd, 'SIGKILL')
      await exited
      closeFd(child.pidfd)
    }
  })

  it('names the interface it cannot find', async () => {
    const child = spawnSandbox(baseSpec({ argv: ['sh', '-c', 'sleep 30'] }))
    const exited = new Promise((resolve) => watchExit(child.pidfd, resolve))
    try {
      expect(() => setLinkUp(child.pid, 'veth-missing', false)).toThrow(/SIOCSIFFLAGS veth-missing: No such device \(ENODEV\)/)
    } finally {
      pidfdSendSignal(child.pidfd, 'SIGKILL')
      await exited
      closeFd(child.pidfd)
    }
  })
})
