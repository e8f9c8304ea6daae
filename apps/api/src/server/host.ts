import { collectHostFacts, type HostFactsReport } from '../diagnostics/doctor.js'

/** The body of GET /api/v1/host: the facts `blackhole doctor` reports. */
export type HostFacts = HostFactsReport

/**
 * Returns a function that collects the host facts on its first call and
 * returns the same facts afterwards: they change only with a reboot or a
 * kernel setting, and collecting them opens an audit netlink socket.
 */
export function cachedHostFacts(): () => Promise<HostFacts> {
  let facts: HostFacts | null = null
  return async () => {
    facts ??= collectHostFacts()
    return facts
  }
}
