// Hand-built LaunchSpecs, seccomp programs and a runner for the kernel
// tests. Policy compilation lives in another package; these tests check the
// launcher alone.

import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LaunchSpec } from '@blackhole/policy'
import { SeccompNotifier, closeFd, pidfdSendSignal, spawnSandbox, watchExit } from '@blackhole/native'
import type { ExitStatus, NotifyAction, NotifyEvent, SandboxChild, SpawnHooks } from '@blackhole/native'

export const TEST_UID = 61999
export const TEST_GID = 61999

export const CAP_NET_BIND_SERVICE = 10
export const CAP_SYS_RESOURCE = 24

export const NR_CONNECT = 42
export const NR_EXECVE = 59
export const NR_SENDMSG = 46
export const NR_MKDIR = 83
export const NR_MKDIRAT = 258
export const EPERM = 1
export const ECONNREFUSED = 111

const AUDIT_ARCH_X86_64 = 0xc000003e

export function baseSpec(overrides: Partial<LaunchSpec> = {}): LaunchSpec {
  return {
    specVersion: 1,
    name: 'native-test',
    file: '/bin/sh',
    argv: ['sh', '-c', 'true'],
    env: ['PATH=/usr/bin:/bin', 'LANG=C'],
    cwd: '/',
    uid: TEST_UID,
    gid: TEST_GID,
    groups: [],
    namespaces: { pid: true, mount: true, net: true, ipc: true, uts: true, cgroup: false },
    hostname: 'native-test',
    capabilities: [],
    noNewPrivs: true,
    mounts: [
      { type: 'bind', source: '/', target: '/', readOnly: true, recursive: true },
      { type: 'proc', target: '/proc' },
      { type: 'dev', target: '/dev' },
      { type: 'tmpfs', target: '/tmp', sizeBytes: 8 << 20, mode: 0o1777, uid: 0, gid: 0, readOnly: false },
    ],
    rlimits: [],
    cgroupProcs: [],
    network: { mode: 'none', loopbackUp: true },
    seccomp: { mode: 'disabled', filter: null, listener: false, flags: 0 },
    landlock: null,
    listenFds: [],
    stdio: [-1, -1, -1],
    ...overrides,
  }
}

// struct sock_filter { u16 code; u8 jt; u8 jf; u32 k }, little-endian on x86_64.
type Instruction = [code: number, jt: number, jf: number, k: number]

const BPF_LD_W_ABS = 0x20
const BPF_JEQ_K = 0x15
const BPF_RET_K = 0x06
const SECCOMP_RET_ALLOW = 0x7fff0000
const SECCOMP_RET_ERRNO = 0x00050000
const SECCOMP_RET_USER_NOTIF = 0x7fc00000
const SECCOMP_RET_KILL_PROCESS = 0x80000000

function encode(program: Instruction[]): string {
  const bytes = Buffer.alloc(program.length * 8)
  program.forEach(([code, jt, jf, k], i) => {
    bytes.writeUInt16LE(code, i * 8)
    bytes.writeUInt8(jt, i * 8 + 2)
    bytes.writeUInt8(jf, i * 8 + 3)
    bytes.writeUInt32LE(k >>> 0, i * 8 + 4)
  })
  return bytes.toString('base64')
}

/** A filter that returns `action` for each listed syscall and allows the rest (x86_64 only). */
export function filterFor(syscalls: number[], action: number): string {
  const program: Instruction[] = [
    [BPF_LD_W_ABS, 0, 0, 4], // seccomp_data.arch
    [BPF_JEQ_K, 1, 0, AUDIT_ARCH_X86_64],
    [BPF_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS],
    [BPF_LD_W_ABS, 0, 0, 0], // seccomp_data.nr
  ]
  syscalls.forEach((nr, i) => {
    // Jump over the remaining checks and the ALLOW to the final return.
    program.push([BPF_JEQ_K, syscalls.length - i, 0, nr])
  })
  program.push([BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW])
  program.push([BPF_RET_K, 0, 0, action])
  return encode(program)
}

export function denyFilter(syscalls: number[], errno: number): string {
  return filterFor(syscalls, SECCOMP_RET_ERRNO | errno)
}

export function notifyFilter(syscalls: number[]): string {
  return filterFor(syscalls, SECCOMP_RET_USER_NOTIF)
}

export interface SandboxRun {
  child: SandboxChild
  exit: ExitStatus
  stdout: string
  stderr: string
  /** Seccomp notifications, when the spec has a listener. */
  events: NotifyEvent[]
}

export interface RunOptions {
  hooks?: SpawnHooks
  timeoutMs?: number
  /** Responses for a spec with a seccomp listener, by syscall number; other numbers get EPERM. */
  notifyActions?: Record<number, NotifyAction>
}

/**
 * Spawns the spec with stdout and stderr in temporary files, responds to its
 * seccomp notifications when it has a listener, waits for the exit through
 * watchExit (killing the sandbox after timeoutMs) and returns both outputs.
 */
export async function runSandbox(spec: LaunchSpec, options: RunOptions = {}): Promise<SandboxRun> {
  const dir = mkdtempSync(join(tmpdir(), 'blackhole-native-'))
  const stdoutFd = openSync(join(dir, 'stdout'), 'w+')
  const stderrFd = openSync(join(dir, 'stderr'), 'w+')
  try {
    const child = spawnSandbox({ ...spec, stdio: [spec.stdio[0], stdoutFd, stderrFd] }, options.hooks)
    const events: NotifyEvent[] = []
    const notifier =
      child.notifyFd === null
        ? null
        : new SeccompNotifier(child.notifyFd, {
            actions: options.notifyActions ?? {},
            defaultAction: { action: 'errno', errno: 1 },
            maxQueue: 10_000,
            batchMs: 10,
            onBatch: (batch) => events.push(...batch),
          })
    try {
      const exited = new Promise<ExitStatus>((resolve) => watchExit(child.pidfd, resolve))
      const timer = setTimeout(() => pidfdSendSignal(child.pidfd, 'SIGKILL'), options.timeoutMs ?? 10_000)
      const exit = await exited
      clearTimeout(timer)
      return {
        child,
        exit,
        stdout: readFileSync(join(dir, 'stdout'), 'utf8'),
        stderr: readFileSync(join(dir, 'stderr'), 'utf8'),
        events,
      }
    } finally {
      closeFd(child.pidfd)
      notifier?.close()
    }
  } finally {
    closeSync(stdoutFd)
    closeSync(stderrFd)
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Returns the value of one field of /proc/PID/status text, such as `CapEff`. */
export function statusField(status: string, name: string): string | undefined {
  const match = new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status)
  return match?.[1]?.trim()
}

/** Capability numbers as the 16 hex digits /proc/PID/status prints. */
export function capMask(caps: number[]): string {
  let mask = 0n
  for (const cap of caps) mask |= 1n << BigInt(cap)
  return mask.toString(16).padStart(16, '0')
}
