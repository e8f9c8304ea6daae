import { existsSync, readFileSync } from 'node:fs'
import { arch, release } from 'node:os'
import { detectLayout } from '../sandbox/cgroups.js'

export interface HostFacts {
  root: boolean
  uid: number
  kernel: string
  arch: string
  cgroup: { version: 'v1' | 'v2' | 'hybrid' | 'none'; controllers: string[]; unifiedControllers: string[] }
  /** Landlock ABI version from the native addon; null when the addon is not loaded or Landlock is off. */
  landlockAbi: number | null
  /** True when seccomp offers user notification (`user_notif` in actions_avail). */
  seccompNotify: boolean
  userNamespaces: boolean
  /** Linux security modules in the order the kernel lists them. */
  lsm: string[]
  apparmor: boolean
  /** The native addon's own report, when it loads. */
  native: Record<string, unknown> | null
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

async function nativeFacts(): Promise<Record<string, unknown> | null> {
  try {
    // A variable specifier keeps tsc from requiring the addon's types, which
    // exist only after the native package is built.
    const specifier = '@blackhole/native'
    const native = (await import(specifier)) as { hostFacts?: () => Record<string, unknown> }
    return typeof native.hostFacts === 'function' ? native.hostFacts() : null
  } catch {
    // The addon is missing or not built; the facts read from /proc still stand.
    return null
  }
}

/** Detects what the host's kernel offers the sandbox, from /proc, /sys and the native addon. */
export async function detectHostFacts(): Promise<HostFacts> {
  const layout = detectLayout()
  const native = await nativeFacts()
  const lsm = (readText('/sys/kernel/security/lsm') ?? '').trim().split(',').filter((name) => name !== '')
  const landlockAbi = typeof native?.landlockAbi === 'number' ? native.landlockAbi : null
  return {
    root: process.getuid?.() === 0,
    uid: process.getuid?.() ?? -1,
    kernel: release(),
    arch: arch(),
    cgroup: {
      version: layout.kind,
      controllers: Object.keys(layout.v1).sort(),
      unifiedControllers: layout.unifiedControllers,
    },
    landlockAbi,
    seccompNotify: (readText('/proc/sys/kernel/seccomp/actions_avail') ?? '').split(/\s+/).includes('user_notif'),
    userNamespaces: Number((readText('/proc/sys/user/max_user_namespaces') ?? '0').trim()) > 0,
    lsm,
    apparmor: existsSync('/sys/kernel/security/apparmor'),
    native,
  }
}
