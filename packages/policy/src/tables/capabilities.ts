// Capability numbers from include/uapi/linux/capability.h (Linux 6.18).

/** The highest capability number in this table; equals CAP_LAST_CAP on Linux 5.9 to 6.18. */
export const CAP_LAST_CAP = 40

/** Capability numbers by canonical name. */
export const CAPABILITIES: Readonly<Record<string, number>> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
}

const namesByNumber = new Map(Object.entries(CAPABILITIES).map(([name, number]) => [number, name]))

/** Returns the canonical name (`CAP_NET_RAW`) for `net_raw`, `NET_RAW` or `cap_net_raw`; null when unknown. */
export function canonicalCapability(name: string): string | null {
  const upper = name.trim().toUpperCase()
  const canonical = upper.startsWith('CAP_') ? upper : `CAP_${upper}`
  return Object.hasOwn(CAPABILITIES, canonical) ? canonical : null
}

export function capabilityNumber(name: string): number | null {
  const canonical = canonicalCapability(name)
  return canonical === null ? null : (CAPABILITIES[canonical] ?? null)
}

export function capabilityName(number: number): string | null {
  return namesByNumber.get(number) ?? null
}
