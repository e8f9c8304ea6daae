// Cutting and restoring a sandbox's network by taking the links of its
// network namespace down and up again.

import { readFileSync } from 'node:fs'
import { setLinkUp } from '@blackhole/native'
import type { Profile } from '@blackhole/policy'

/** Lists the network links of a process's network namespace from /proc/PID/net/dev. */
export function sandboxLinks(pid: number): string[] {
  let text = ''
  try {
    text = readFileSync(`/proc/${pid}/net/dev`, 'utf8')
  } catch {
    return ['lo']
  }
  // Two header lines, then one `name: counters...` line per link.
  const links = text.split('\n').slice(2).map((line) => line.split(':')[0]!.trim()).filter((link) => link !== '')
  return links.length === 0 ? ['lo'] : links
}

/** Takes every link in the namespace of pid down. */
export function cutLinks(pid: number): void {
  for (const link of sandboxLinks(pid)) setLinkUp(pid, link, false)
}

/**
 * Brings the links of pid's namespace back up. lo stays down when the
 * profile does not allow localhost, because the launcher never raised it.
 */
export function restoreLinks(pid: number, profile: Profile): void {
  for (const link of sandboxLinks(pid)) {
    if (link === 'lo' && !profile.network.allowLocalhost) continue
    setLinkUp(pid, link, true)
  }
}
