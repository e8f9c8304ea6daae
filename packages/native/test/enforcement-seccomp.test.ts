// Seccomp rules of compiled profiles, checked with the real launcher: each
// profile is YAML parsed and compiled by the policy package, and a small C
// helper inside the sandbox makes the syscalls and prints what each returned.
//
// The helper is built into a folder under /var/lib because the sandbox gets
// a private /tmp; the read-only root shows /var/lib at the same path.

import { execFileSync } from 'node:child_process'
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  capabilityName,
  compileLaunch,
  compileSeccomp,
  describeReturn,
  parseConfig,
  resolveIdentity,
  runFilter,
  AUDIT_ARCH,
  LAUNCHER_SYSCALLS,
  SYSCALLS_X86_64,
} from '@blackhole/policy'
import type { NotifyAction, Profile, ServiceDefinition } from '@blackhole/policy'
import { SeccompNotifier, closeFd, hostFacts, pidfdSendSignal, spawnSandbox, watchExit } from '@blackhole/native'
import type { ExitStatus, NotifyEvent } from '@blackhole/native'

// Each command prints `name=ok` or `name=ERRNO`. Commands that would start a
// process or a new namespace when allowed clean up after themselves.
const HELPER_SOURCE = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

static void report(const char *name, long result) {
  if (result < 0) printf("%s=%s\n", name, strerrorname_np(errno));
  else printf("%s=ok\n", name);
  fflush(stdout);
}

struct clone_args_v0 { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls; };

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *cmd = argv[i];
    errno = 0;
    if (strcmp(cmd, "uname") == 0) {
      struct utsname buf;
      report(cmd, syscall(SYS_uname, &buf));
    } else if (strcmp(cmd, "sched_yield") == 0) {
      report(cmd, syscall(SYS_sched_yield));
    } else if (strncmp(cmd, "nr=", 3) == 0) {
      report(cmd, syscall(strtol(cmd + 3, NULL, 0), 0, 0, 0, 0, 0, 0));
    } else if (strcmp(cmd, "clone3") == 0) {
      struct clone_args_v0 args;
      memset(&args, 0, sizeof(args));
      args.exit_signal = SIGCHLD;
      long pid = syscall(SYS_clone3, &args, sizeof(args));
      if (pid == 0) _exit(0);
      if (pid > 0) waitpid(pid, NULL, 0);
      report(cmd, pid);
    } else if (strcmp(cmd, "fork") == 0) {
      pid_t pid = fork();
      if (pid == 0) _exit(7);
      int status = 0;
      if (pid > 0 && (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 7)) {
        errno = ECHILD;
        pid = -1;
      }
      report(cmd, pid);
    } else if (strcmp(cmd, "unshare_user") == 0) {
      report(cmd, unshare(CLONE_NEWUSER));
    } else if (strcmp(cmd, "clone_user") == 0) {
      long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
      if (pid == 0) _exit(0);
      if (pid > 0) waitpid(pid, NULL, 0);
      report(cmd, pid);
    } else if (strcmp(cmd, "io_uring_setup") == 0) {
      struct io_uring_params params;
      memset(&params, 0, sizeof(params));
      report(cmd, syscall(SYS_io_uring_setup, 4, &params));
    } else if (strcmp(cmd, "bpf") == 0) {
      // BPF_MAP_CREATE with a zeroed attribute: EINVAL when the call gets through.
      char attr[128];
      memset(attr, 0, sizeof(attr));
      report(cmd, syscall(SYS_bpf, 0, attr, sizeof(attr)));
    } else if (strcmp(cmd, "keyctl") == 0) {
      // KEYCTL_GET_KEYRING_ID of the session keyring, creating it when missing.
      report(cmd, syscall(SYS_keyctl, 0, -3, 1));
    } else if (strcmp(cmd, "perf_event_open") == 0) {
      struct perf_event_attr attr;
      memset(&attr, 0, sizeof(attr));
      attr.size = sizeof(attr);
      attr.type = PERF_TYPE_SOFTWARE;
      attr.config = PERF_COUNT_SW_TASK_CLOCK;
      attr.exclude_kernel = 1;
      report(cmd, syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
    } else if (strcmp(cmd, "ptrace") == 0) {
      report(cmd, syscall(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0));
    } else if (strcmp(cmd, "tiocsti") == 0 || strcmp(cmd, "tiocsti_high") == 0) {
      // The kernel reads the request as a 32-bit int, so bits above 31 must not slip past the filter.
      unsigned long request = 0x5412UL;
      if (strcmp(cmd, "tiocsti_high") == 0) request |= 0x100000000UL;
      char c = 'x';
      report(cmd, syscall(SYS_ioctl, 0, request, &c));
    } else if (strcmp(cmd, "raw_socket") == 0) {
      int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP);
      report(cmd, fd);
      if (fd >= 0) close(fd);
    } else if (strcmp(cmd, "packet_socket") == 0) {
      int fd = socket(AF_PACKET, SOCK_DGRAM, 0);
      report(cmd, fd);
      if (fd >= 0) close(fd);
    } else if (strcmp(cmd, "seccomp_status") == 0) {
      FILE *status = fopen("/proc/self/status", "r");
      char line[256];
      while (status != NULL && fgets(line, sizeof(line), status) != NULL) {
        if (strncmp(line, "Seccomp:", 8) == 0) printf("seccomp_status=%ld\n", strtol(line + 8, NULL, 10));
      }
      if (status != NULL) fclose(status);
    } else {
      printf("%s=unknown-command\n", cmd);
    }
  }
  return 0;
}
`

const NR = SYSCALLS_X86_64
const EPERM = 1
const EACCES = 13
// syscall 999 is unassigned on x86_64; the table ends in the 460s.
const UNKNOWN_NR = 999
const X32_SYSCALL_BIT = 0x40000000

let work = ''
let helper = ''

beforeAll(() => {
  work = mkdtempSync('/var/lib/blackhole-enforce-')
  chmodSync(work, 0o755)
  writeFileSync(join(work, 'helper.c'), HELPER_SOURCE)
  helper = join(work, 'helper')
  execFileSync('gcc', ['-O1', '-Wall', '-o', helper, join(work, 'helper.c')], { stdio: 'pipe' })
  chmodSync(helper, 0o755)
})

afterAll(() => {
  if (work !== '') rmSync(work, { recursive: true, force: true })
})

const SERVICE: ServiceDefinition = {
  name: 'enforce',
  profile: 'enforce',
  command: '/bin/true',
  args: [],
  workingDirectory: '/',
  environment: {},
  restart: 'no',
  persistentPaths: [],
  autostart: false,
}

/** Parses one profile named `enforce` from YAML; throws with every error when invalid. */
function profileFromYaml(yaml: string): Profile {
  const parsed = parseConfig(`security_profiles:\n  enforce:\n${yaml.replace(/^/gm, '    ')}\n`, 'enforcement-test.yaml')
  if (!parsed.ok) throw new Error(parsed.errors.map((e) => `${e.line}:${e.col} ${e.path}: ${e.message}`).join('\n'))
  const profile = parsed.config.profiles.enforce
  if (profile === undefined) throw new Error('the test config has no enforce profile')
  return profile
}

function boundingCapNames(): string[] {
  const mask = BigInt(`0x${hostFacts().boundingSet}`)
  const names: string[] = []
  for (let cap = 0; cap < 64; cap++) {
    const name = capabilityName(cap)
    if ((mask >> BigInt(cap)) & 1n && name !== null) names.push(name)
  }
  return names
}

interface Run {
  exit: ExitStatus
  results: Record<string, string>
  stderr: string
  events: NotifyEvent[]
}

/**
 * Compiles the profile, launches argv under it, responds to its notifications
 * with the compiled actions and waits until every notification received was
 * delivered, so `events` is complete.
 */
async function runUnder(profile: Profile, argv: string[]): Promise<Run> {
  const identity = resolveIdentity(profile, 'enforce', readFileSync('/etc/passwd', 'utf8'), readFileSync('/etc/group', 'utf8'))
  const { spec, notifyActions } = compileLaunch({
    profile,
    service: SERVICE,
    name: 'enforce',
    argv,
    identity,
    host: { arch: 'x86_64', landlockAbi: hostFacts().landlockAbi, boundingCaps: boundingCapNames(), cgroupProcs: [] },
    stdio: [-1, -1, -1],
    listenFds: [],
    persistentSources: {},
    env: {},
  })
  const stdoutPath = join(work, 'stdout')
  const stderrPath = join(work, 'stderr')
  const stdoutFd = openSync(stdoutPath, 'w+')
  const stderrFd = openSync(stderrPath, 'w+')
  const events: NotifyEvent[] = []
  try {
    const child = spawnSandbox({ ...spec, stdio: [-1, stdoutFd, stderrFd] })
    const notifier = child.notifyFd === null ? null : new SeccompNotifier(child.notifyFd, {
      actions: nativeActions(notifyActions),
      defaultAction: { action: 'errno', errno: EPERM },
      maxQueue: 10_000,
      batchMs: 5,
      onBatch: (batch) => events.push(...batch),
    })
    try {
      const exited = new Promise<ExitStatus>((resolve) => watchExit(child.pidfd, resolve))
      const timer = setTimeout(() => pidfdSendSignal(child.pidfd, 'SIGKILL'), 20_000)
      const exit = await exited
      clearTimeout(timer)
      for (let i = 0; notifier !== null && i < 200 && notifier.stats().delivered < notifier.stats().received; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      const results: Record<string, string> = {}
      for (const line of readFileSync(stdoutPath, 'utf8').split('\n')) {
        // Names such as `nr=999` contain '=' themselves, so the result follows the last one.
        const split = line.lastIndexOf('=')
        if (split > 0) results[line.slice(0, split)] = line.slice(split + 1)
      }
      return { exit, results, stderr: readFileSync(stderrPath, 'utf8'), events }
    } finally {
      notifier?.close()
      closeFd(child.pidfd)
    }
  } finally {
    closeSync(stdoutFd)
    closeSync(stderrFd)
  }
}

function nativeActions(actions: Record<number, NotifyAction>): Record<number, { action: 'errno'; errno: number } | { action: 'continue' }> {
  const result: Record<number, { action: 'errno'; errno: number } | { action: 'continue' }> = {}
  for (const [nr, action] of Object.entries(actions)) {
    result[Number(nr)] = action.action === 'errno' ? { action: 'errno', errno: action.errno } : { action: 'continue' }
  }
  return result
}

const DENYING_PROFILE = `
syscalls:
  denied:
    - uname
    - name: sched_yield
      errno: EACCES
network:
  mode: none
`

describe('syscalls.denied in enforce mode', () => {
  let run: Run

  beforeAll(async () => {
    run = await runUnder(profileFromYaml(`enforce_mode: enforce\n${DENYING_PROFILE}`), [helper, 'uname', 'sched_yield'])
  })

  it('returns EPERM by default', () => {
    expect(run.exit.code).toBe(0)
    expect(run.results.uname).toBe('EPERM')
  })

  it('returns the errno the rule names', () => {
    expect(run.results.sched_yield).toBe('EACCES')
  })

  it('reports each denial to the notifier', () => {
    const uname = run.events.find((event) => event.syscall === NR.uname)
    expect(uname?.action).toBe('errno')
    expect(uname?.errno).toBe(EPERM)
    const yieldEvent = run.events.find((event) => event.syscall === NR.sched_yield)
    expect(yieldEvent?.action).toBe('errno')
    expect(yieldEvent?.errno).toBe(EACCES)
  })
})

describe('syscalls.denied in permissive mode', () => {
  let run: Run

  beforeAll(async () => {
    run = await runUnder(profileFromYaml(`enforce_mode: permissive\n${DENYING_PROFILE}`), [helper, 'uname', 'sched_yield'])
  })

  it('lets the call succeed', () => {
    expect(run.exit.code).toBe(0)
    expect(run.results.uname).toBe('ok')
    expect(run.results.sched_yield).toBe('ok')
  })

  it('still reports each call to the notifier', () => {
    const uname = run.events.find((event) => event.syscall === NR.uname)
    expect(uname?.action).toBe('continue')
    const yieldEvent = run.events.find((event) => event.syscall === NR.sched_yield)
    expect(yieldEvent?.action).toBe('continue')
  })
})

describe('default rules in enforce mode', () => {
  let run: Run
  const commands = [
    `nr=${UNKNOWN_NR}`, `nr=${X32_SYSCALL_BIT | (NR.getpid ?? 39)}`, 'clone3', 'fork', 'unshare_user', 'clone_user',
    'io_uring_setup', 'bpf', 'keyctl', 'perf_event_open', 'ptrace', 'tiocsti', 'tiocsti_high', 'raw_socket',
    'packet_socket', 'seccomp_status',
  ]

  beforeAll(async () => {
    // CAP_NET_RAW is granted so that only the filter can stop a raw socket.
    const profile = profileFromYaml('enforce_mode: enforce\ncapabilities:\n  - CAP_NET_RAW\nnetwork:\n  mode: none\n')
    run = await runUnder(profile, [helper, ...commands])
  })

  it('runs the helper to the end', () => {
    expect(run.stderr).toBe('')
    expect(run.exit.code).toBe(0)
    expect(Object.keys(run.results)).toEqual(commands)
  })

  it('returns ENOSYS for unknown numbers', () => {
    expect(run.results[`nr=${UNKNOWN_NR}`]).toBe('ENOSYS')
  })

  it('returns ENOSYS for x32 syscall numbers', () => {
    expect(run.results[`nr=${X32_SYSCALL_BIT | (NR.getpid ?? 39)}`]).toBe('ENOSYS')
  })

  it('returns ENOSYS for clone3 while fork still works', () => {
    expect(run.results.clone3).toBe('ENOSYS')
    expect(run.results.fork).toBe('ok')
  })

  it('denies a new user namespace', () => {
    expect(run.results.unshare_user).toBe('EPERM')
    expect(run.results.clone_user).toBe('EPERM')
  })

  it.each(['io_uring_setup', 'bpf', 'keyctl', 'perf_event_open', 'ptrace'])('denies %s with EPERM', (name) => {
    expect(run.results[name]).toBe('EPERM')
  })

  it('reports the default denials as errno events', () => {
    for (const name of ['io_uring_setup', 'bpf', 'keyctl', 'perf_event_open', 'ptrace', 'unshare']) {
      const event = run.events.find((e) => e.syscall === NR[name])
      expect(event?.action, name).toBe('errno')
      expect(event?.errno, name).toBe(EPERM)
    }
  })

  it('denies TIOCSTI, also with bits above 31 set', () => {
    expect(run.results.tiocsti).toBe('EPERM')
    expect(run.results.tiocsti_high).toBe('EPERM')
  })

  it('denies raw and packet sockets despite CAP_NET_RAW', () => {
    expect(run.results.raw_socket).toBe('EPERM')
    expect(run.results.packet_socket).toBe('EPERM')
  })

  it('installs a filter', () => {
    expect(run.results.seccomp_status).toBe('2')
  })
})

describe('the same calls without seccomp', () => {
  let run: Run

  beforeAll(async () => {
    const profile = profileFromYaml('enforce_mode: disabled\ncapabilities:\n  - CAP_NET_RAW\nnetwork:\n  mode: none\n')
    run = await runUnder(profile, [
      helper, 'seccomp_status', 'uname', `nr=${UNKNOWN_NR}`, 'clone3', 'tiocsti_high', 'raw_socket',
      // Last: after it the helper holds no capabilities in the host's user namespace.
      'unshare_user',
    ])
  })

  it('installs no filter in disabled mode', () => {
    expect(run.exit.code).toBe(0)
    expect(run.results.seccomp_status).toBe('0')
  })

  // These show that the results above come from the filter, not from the kernel or missing capabilities.
  it('reaches the kernel for each call', () => {
    expect(run.results.uname).toBe('ok')
    expect(run.results[`nr=${UNKNOWN_NR}`]).toBe('ENOSYS')
    expect(run.results.clone3).toBe('ok')
    expect(run.results.unshare_user).toBe('ok')
    expect(run.results.tiocsti_high).toBe('ENOTTY')
    expect(run.results.raw_socket).toBe('ok')
  })

  it('sends no notifications', () => {
    expect(run.events).toEqual([])
  })
})

describe('syscalls the launcher makes after installing the filter', () => {
  // After the filter the launcher sends the listener with sendmsg, closes it,
  // and calls execve; on a failed step it calls write and exit_group. A
  // notified sendmsg would block the launch, since the parent has no listener yet.
  const launcherCalls = ['sendmsg', 'close', 'write', 'exit_group']
  const profiles: Record<string, string> = {
    'strict enforce': 'enforce_mode: enforce\nnetwork:\n  mode: none\n',
    permissive: 'enforce_mode: permissive\n',
    'with denials': `enforce_mode: enforce\n${DENYING_PROFILE}`,
    'with opt-ins': 'enforce_mode: enforce\nsyscalls:\n  allowed:\n    - ptrace\n    - socket\n    - personality\n',
  }

  for (const [label, yaml] of Object.entries(profiles)) {
    it(`allows them in the ${label} filter`, () => {
      const compiled = compileSeccomp(profileFromYaml(yaml), 'x86_64')
      expect(compiled.filter).not.toBeNull()
      for (const name of launcherCalls) {
        const nr = NR[name]
        expect(nr, name).toBeDefined()
        const verdict = describeReturn(runFilter(compiled.filter as string, { nr: nr as number, arch: AUDIT_ARCH.X86_64, args: [3, 0, 0, 0, 0, 0] }))
        expect(verdict.action, name).toBe('ALLOW')
        expect(compiled.notifyActions[nr as number], name).toBeUndefined()
      }
    })
  }

  it('lists them as launcher syscalls', () => {
    expect([...LAUNCHER_SYSCALLS].sort()).toEqual([...launcherCalls].sort())
  })

  it.each(launcherCalls)('rejects a profile that denies %s', (name) => {
    const parsed = parseConfig(`security_profiles:\n  p:\n    syscalls:\n      denied:\n        - ${name}\n`, 'launcher.yaml')
    expect(parsed.ok).toBe(false)
    const message = parsed.ok ? '' : parsed.errors.map((error) => error.message).join('\n')
    expect(message).toContain(`syscall "${name}" cannot be denied`)
  })

  it.each(launcherCalls)('refuses to compile a denial of %s', (name) => {
    const profile = profileFromYaml('enforce_mode: enforce\n')
    const withDenial: Profile = { ...profile, syscalls: { allowed: [], denied: [{ name, errno: null }] } }
    expect(() => compileSeccomp(withDenial, 'x86_64')).toThrow(`syscall "${name}" cannot be denied`)
  })
})

