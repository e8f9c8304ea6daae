import { describe, expect, it } from 'vitest'
import { SeccompNotifier, closeFd, spawnSandbox, watchExit } from '@blackhole/native'
import type { ExitStatus, NotifyEvent } from '@blackhole/native'
import { NR_CONNECT, NR_EXECVE, baseSpec, notifyFilter } from './helpers.js'
import { mkdtempSync, openSync, readFileSync, rmSync, closeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const EACCES = 13
const AUDIT_ARCH_X86_64 = 0xc000003e

describe('SeccompNotifier', () => {
  it('answers from the table and decodes arguments', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'blackhole-notify-'))
    const stderrFd = openSync(join(dir, 'stderr'), 'w+')
    const stdoutFd = openSync(join(dir, 'stdout'), 'w+')
    const events: NotifyEvent[] = []
    let droppedTotal = 0
    try {
      const spec = baseSpec({
        file: '/bin/bash',
        argv: ['bash', '-c', 'echo hi > /dev/tcp/127.0.0.1/5555; echo "status=$?"; /bin/true one two'],
        seccomp: { mode: 'enforce', filter: notifyFilter([NR_CONNECT, NR_EXECVE]), listener: true, flags: 0 },
        stdio: [-1, stdoutFd, stderrFd],
      })
      const child = spawnSandbox(spec)
      expect(child.notifyFd).not.toBeNull()
      const notifier = new SeccompNotifier(child.notifyFd as number, {
        actions: { [NR_CONNECT]: { action: 'errno', errno: EACCES } },
        defaultAction: { action: 'continue' },
        maxQueue: 100,
        batchMs: 20,
        onBatch: (batch, dropped) => {
          events.push(...batch)
          droppedTotal += dropped
        },
      })
      const exit = await new Promise<ExitStatus>((resolve) => watchExit(child.pidfd, resolve))
      // The thread ends on POLLHUP once the sandbox is reaped, after a last delivery.
      for (let i = 0; i < 100 && notifier.stats().delivered < notifier.stats().received; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      const stats = notifier.stats()
      notifier.close()
      closeFd(child.pidfd)

      expect(exit.code).toBe(0)
      expect(readFileSync(join(dir, 'stdout'), 'utf8')).toContain('status=1')
      expect(readFileSync(join(dir, 'stderr'), 'utf8')).toContain('Permission denied')

      // bash may try the nscd socket (AF_UNIX) before the TCP connect.
      const connect = events.find((event) => event.syscall === NR_CONNECT && event.decoded?.family === 'AF_INET')
      expect(connect?.action).toBe('errno')
      expect(connect?.errno).toBe(EACCES)
      expect(connect?.arch).toBe(AUDIT_ARCH_X86_64)
      expect(connect?.args).toHaveLength(6)
      expect(connect?.decoded?.family).toBe('AF_INET')
      expect(connect?.decoded?.address).toBe('127.0.0.1')
      expect(connect?.decoded?.port).toBe(5555)
      expect(connect?.pid).toBe(child.pid)

      const exec = events.find((event) => event.syscall === NR_EXECVE)
      expect(exec?.action).toBe('continue')
      expect(exec?.decoded?.path).toBe('/bin/true')
      expect(exec?.decoded?.argv).toEqual(['/bin/true', 'one', 'two'])
      expect(Math.abs((exec?.time ?? 0) - Date.now())).toBeLessThan(10_000)

      // spawnSandbox itself lets the launcher's execve of bash continue, so it is not reported.
      expect(events.filter((event) => event.syscall === NR_EXECVE)).toHaveLength(1)
      expect(stats.received).toBe(events.length)
      expect(stats.delivered).toBe(events.length)
      expect(stats.dropped).toBe(0)
      expect(droppedTotal).toBe(0)
    } finally {
      closeSync(stdoutFd)
      closeSync(stderrFd)
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('counts drops when the queue is full', async () => {
    const spec = baseSpec({
      file: '/bin/bash',
      argv: ['bash', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do /bin/true; done'],
      seccomp: { mode: 'enforce', filter: notifyFilter([NR_EXECVE]), listener: true, flags: 0 },
    })
    const child = spawnSandbox(spec)
    let delivered = 0
    let dropped = 0
    const notifier = new SeccompNotifier(child.notifyFd as number, {
      actions: {},
      defaultAction: { action: 'continue' },
      maxQueue: 3,
      // Longer than the run, so the queue fills before the first delivery.
      batchMs: 5_000,
      onBatch: (batch, droppedNow) => {
        delivered += batch.length
        dropped += droppedNow
      },
    })
    const exit = await new Promise<ExitStatus>((resolve) => watchExit(child.pidfd, resolve))
    for (let i = 0; i < 100 && delivered + dropped < 10; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const stats = notifier.stats()
    notifier.close()
    closeFd(child.pidfd)
    expect(exit.code).toBe(0)
    expect(stats.received).toBe(10)
    expect(stats.delivered).toBe(3)
    expect(stats.dropped).toBe(7)
    expect(delivered).toBe(3)
    expect(dropped).toBe(7)
  })

  it('rejects an invalid action', () => {
    expect(
      () =>
        new SeccompNotifier(0, {
          actions: { 42: { action: 'errno', errno: 0 } },
          defaultAction: { action: 'continue' },
          maxQueue: 1,
          batchMs: 1,
          onBatch: () => {},
        }),
    ).toThrow("actions[42] must be { action: 'errno', errno: 1..4095 } or { action: 'continue' }")
  })
})
