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
  /**
   * Largest config file parseConfig accepts, in bytes; a profile is about
   * 1 KiB. Parsing is synchronous and yaml 2.9.1 reads about 100,000 list
   * items per second (Node 20, 2 shared cores), so the slowest 256 KiB
   * inputs tried, 130,000 one-character list items, take 1 to 3 s.
   */
  maxConfigBytes: 256 * 1024,
  /** Largest number of alias expansions in one YAML file. */
  maxAliasCount: 100,
} as const
