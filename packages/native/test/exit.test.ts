import { describe, expect, it } from 'vitest'
import { closeFd, openPidfd, pidfdSendSignal, spawnSandbox, watchExit } from '@blackhole/native'
import type { ExitStatus } from '@blackhole/native'
import { baseSpec } from './helpers.js'

function waitForExit(pidfd: number): Promise<ExitStatus> {
  return new Promise((resolve) => watchExit(pidfd, resolve))
}

describe('watchExit', () => {
  it('reports the exit code', async () => {
    const child = spawnSandbox(baseSpec({ argv: ['sh', '-c', 'exit 7'] }))
    try {
      const exit = await waitForExit(child.pidfd)
      expect(exit.code).toBe(7)
      expect(exit.signal).toBeNull()
      expect(exit.status).toBe(7 << 8)
    } finally {
      closeFd(child.pidfd)
    }
  })

  it('reports the signal and keeps timers running', async () => {
    const child = spawnSandbox(baseSpec({ argv: ['sh', '-c', 'sleep 30'] }))
    try {
      let ticks = 0
      const ticker = setInterval(() => ticks++, 10)
      const exited = waitForExit(child.pidfd)
      await new Promise((resolve) => setTimeout(resolve, 200))
      pidfdSendSignal(child.pidfd, 'SIGKILL')
      const exit = await exited
      clearInterval(ticker)
      expect(exit.code).toBeNull()
      expect(exit.signal).toBe('SIGKILL')
      expect(exit.status).toBe(9)
      // The loop ran the interval while the sandbox lived: it was never blocked.
      expect(ticks).toBeGreaterThanOrEqual(5)
    } finally {
      closeFd(child.pidfd)
    }
  })

  it('stops watching when asked', async () => {
    const child = spawnSandbox(baseSpec({ argv: ['sh', '-c', 'sleep 30'] }))
    try {
      let called = false
      const stop = watchExit(child.pidfd, () => {
        called = true
      })
      stop()
      pidfdSendSignal(child.pidfd, 9)
      const exit = await waitForExit(child.pidfd)
      expect(exit.signal).toBe('SIGKILL')
      expect(called).toBe(false)
    } finally {
      closeFd(child.pidfd)
    }
  })

  it('works on a pidfd from openPidfd', async () => {
    const child = spawnSandbox(baseSpec({ argv: ['sh', '-c', 'sleep 30'] }))
    const second = openPidfd(child.pid)
    try {
      const exited = waitForExit(second)
      // The sandbox's sh is init of its PID namespace, which ignores SIGTERM
      // without a handler even from outside (pid_namespaces(7)); SIGKILL always works.
      pidfdSendSignal(second, 'SIGKILL')
      const exit = await exited
      expect(exit.signal).toBe('SIGKILL')
    } finally {
      closeFd(second)
      closeFd(child.pidfd)
    }
  })

  it('rejects an unknown signal name', () => {
    expect(() => pidfdSendSignal(0, 'SIGNOPE')).toThrow("signal 'SIGNOPE' is not a known signal name")
  })
})
