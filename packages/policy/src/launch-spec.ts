// The LaunchSpec is the contract between the policy package and the native
// launcher. It is plain JSON with every value resolved: the native side makes
// no policy decisions, it only carries out these steps in the order the
// launch sequence fixes.

export type EnforceMode = 'enforce' | 'permissive' | 'disabled'
export type NetworkMode = 'none' | 'veth' | 'host'

export type RlimitName = 'AS' | 'DATA' | 'STACK' | 'CORE' | 'NOFILE' | 'NPROC' | 'MEMLOCK' | 'FSIZE'

export interface Rlimit {
  resource: RlimitName
  /** Soft limit; null means RLIM_INFINITY. */
  soft: number | null
  /** Hard limit; null means RLIM_INFINITY. */
  hard: number | null
}

/**
 * One mount step, run inside the new mount namespace before pivot_root.
 * Targets are absolute paths as seen inside the sandbox; the launcher
 * prefixes them with the staging root.
 */
export type MountStep =
  /** Recursive bind of a host path; readOnly applies to every submount (mount_setattr AT_RECURSIVE). */
  | { type: 'bind'; source: string; target: string; readOnly: boolean; recursive: boolean }
  /** A fresh procfs for the new PID namespace (hidepid=invisible is not used: the PID namespace already hides the host). */
  | { type: 'proc'; target: string }
  /** A tmpfs holding only null, zero, full, random, urandom and tty (bind-mounted from the host), plus pts and shm. */
  | { type: 'dev'; target: string }
  /** A tmpfs; sizeBytes null means the kernel default (half of RAM). */
  | { type: 'tmpfs'; target: string; sizeBytes: number | null; mode: number; uid: number; gid: number; readOnly: boolean }
  /** Hide a path: an empty read-only tmpfs over a directory, /dev/null over a file. Missing paths are skipped. */
  | { type: 'mask'; target: string }
  /** Bind a path onto itself read-only (for example /proc/sys after the fresh /proc). Missing paths are skipped. */
  | { type: 'readonly'; target: string }

export interface LandlockSpec {
  /** The lowest Landlock ABI version the rules need; the launcher fails the `landlock` step when the kernel has less. */
  minAbi: number
  /** handled_access_fs bitmask (LANDLOCK_ACCESS_FS_*), already trimmed to what minAbi knows. */
  handledAccessFs: number
  /** handled_access_net bitmask (LANDLOCK_ACCESS_NET_*), 0 when no port rules apply. */
  handledAccessNet: number
  /** LANDLOCK_SCOPE_* bits (ABI 6), 0 for none. */
  scoped: number
  /** Paths inside the sandbox and the accesses allowed beneath each. */
  pathRules: { path: string; access: number }[]
  /** TCP ports and the accesses allowed on each (BIND_TCP, CONNECT_TCP). */
  netRules: { port: number; access: number }[]
  /** Flags for landlock_restrict_self (ABI 7 logging flags), 0 for none. */
  restrictFlags: number
}

export interface SeccompSpec {
  mode: EnforceMode
  /**
   * The filter as struct sock_filter[] (8 bytes each, host byte order),
   * base64 encoded; null when mode is 'disabled'.
   */
  filter: string | null
  /**
   * When true the filter is installed with SECCOMP_FILTER_FLAG_NEW_LISTENER
   * and the notification descriptor is sent to the parent before execve.
   */
  listener: boolean
  /** Seccomp filter install flags besides NEW_LISTENER (for example TSYNC), normally 0. */
  flags: number
}

export interface LaunchSpec {
  /** Version of this contract; the native side rejects any other. */
  specVersion: 1
  /** Service name: the hostname inside and the label in error messages. */
  name: string
  /** Absolute path of the program to execve, as seen inside the sandbox. */
  file: string
  argv: string[]
  /** The final environment, each entry NAME=value. */
  env: string[]
  /** Working directory inside the sandbox. */
  cwd: string
  uid: number
  gid: number
  /** Supplementary groups after setgroups; empty for none. */
  groups: number[]
  namespaces: { pid: boolean; mount: boolean; net: boolean; ipc: boolean; uts: boolean; cgroup: boolean }
  hostname: string
  /** Capability numbers kept in the bounding, permitted, effective, inheritable and ambient sets; all others dropped. */
  capabilities: number[]
  noNewPrivs: boolean
  /** Mount steps in order; empty when namespaces.mount is false. */
  mounts: MountStep[]
  rlimits: Rlimit[]
  /**
   * cgroup files the child is placed in before its release. For a v1
   * cgroup.procs the child writes 0 into the sibling `tasks` file itself,
   * because a parent-side write waits on a kernel-wide lock; for cgroup2 the
   * parent writes the pid.
   */
  cgroupProcs: string[]
  network: { mode: NetworkMode; loopbackUp: boolean }
  seccomp: SeccompSpec
  landlock: LandlockSpec | null
  /**
   * Descriptors held open by the supervisor (already bound listening sockets)
   * that the child receives as 3, 4, ... in this order. The launcher sets
   * LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES when the list is not empty.
   */
  listenFds: { fd: number; name: string }[]
  /** Parent descriptors that become the child's 0, 1 and 2; -1 opens /dev/null. */
  stdio: [number, number, number]
}
