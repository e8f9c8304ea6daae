// Values a profile takes when a section or field is missing: strict, but
// enough for a small service to start.

export const DEFAULTS = {
  enforceMode: 'enforce',
  readOnlyRoot: true,
  networkMode: 'none',
  allowLocalhost: false,
  allowUnixSockets: false,
  maxFileDescriptors: 1024,
  maxProcesses: 64,
  maxMemory: 512 * 1024 ** 2,
  maxCpu: null,
  maxTmpfs: 64 * 1024 ** 2,
  restart: 'no',
  autostart: true,
  /** Largest config file parseConfig accepts, in bytes. */
  maxConfigBytes: 1024 * 1024,
  /** Largest number of alias expansions in one YAML file. */
  maxAliasCount: 100,
} as const
