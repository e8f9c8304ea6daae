// The typed form of a security profile after parsing, validation, `extends`
// resolution and defaults. Every field is present: a section missing from the
// YAML takes its strictest value here, so later stages never guess.

import type { EnforceMode, NetworkMode } from './launch-spec.js'

export type FileAccessMode = 'r' | 'w' | 'rw' | 'x' | 'rx' | 'rwx'

export interface SyscallRule {
  /** Syscall name as in the x86_64 and aarch64 tables, for example `openat`. */
  name: string
  /** Errno name returned when the rule denies, for example `EPERM`; null for the default. */
  errno: string | null
}

export interface WritablePath {
  /** Absolute, normalised path inside the sandbox. */
  path: string
  /** tmpfs size in bytes; null means the profile's max_tmpfs, or the kernel default. */
  sizeBytes: number | null
}

export interface FileAccessRule {
  path: string
  mode: FileAccessMode
}

export type ListenSocket =
  | { kind: 'tcp'; port: number; host: string | null; name: string }
  | { kind: 'unix'; path: string; name: string }

export interface Profile {
  /** Key under `security_profiles`. */
  name: string
  /** Name of the profile this one extends, as written; null when none. */
  extends: string | null
  /** Account name; null means a dynamic user named `blackhole-<service>`. */
  user: string | null
  /** Group name; null means the dynamic user's own group. */
  group: string | null
  enforceMode: EnforceMode
  /** Canonical names such as `CAP_NET_BIND_SERVICE`, sorted, without duplicates. */
  capabilities: string[]
  syscalls: { allowed: SyscallRule[]; denied: SyscallRule[] }
  filesystem: {
    readOnlyRoot: boolean
    writablePaths: WritablePath[]
    /** Persistent paths, bind-mounted from the host data folder. */
    dataPaths: string[]
    fileAccess: FileAccessRule[]
    deniedPaths: string[]
  }
  network: {
    mode: NetworkMode
    allowLocalhost: boolean
    allowUnixSockets: boolean
    /** TCP ports the service may bind and connect to. */
    allowedPorts: number[]
    /** Outbound destinations as CIDRs (a bare address becomes /32 or /128). */
    outbound: string[]
    listen: ListenSocket[]
  }
  resourceLimits: {
    /** Bytes; null means no limit. */
    maxMemory: number | null
    /** CPUs as a fraction, 0.5 means half of one CPU; null means no limit. */
    maxCpu: number | null
    maxFileDescriptors: number
    maxProcesses: number
    /** Bytes; the default size of each writable tmpfs. */
    maxTmpfs: number | null
  }
  environment: {
    /** Names passed through from the supervisor's environment when set there. */
    allow: string[]
    /** Fixed values, applied after the allow-list. */
    set: Record<string, string>
  }
}

/** One validation problem, printed as `FILE:LINE:COL: field.path: message`. */
export interface PolicyError {
  file: string
  line: number
  col: number
  /** Dotted path such as `security_profiles.identity.network.allowed_ports[0]`. */
  path: string
  message: string
}
