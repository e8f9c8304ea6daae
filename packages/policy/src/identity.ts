// Resolves a profile's user and group to numeric ids without editing
// /etc/passwd: named accounts come from the passwd and group text, anything
// else gets a stable dynamic id.

import { createHash } from 'node:crypto'
import { PolicyCompileError } from './errors.js'
import type { Profile } from './profile.js'

/**
 * Dynamic ids live in 0x7A000000-0x7A00FFFF. The range is clear of the
 * login.defs defaults (system 100-999, users 1000-60000), systemd's
 * DynamicUser range (61184-65519) and its container range
 * (524288-1879048191). Ids already in passwd or group are skipped, so a
 * dynamic id cannot collide with an account that exists at launch.
 */
export const DYNAMIC_ID_BASE = 0x7a000000
export const DYNAMIC_ID_COUNT = 0x10000

export interface Identity {
  uid: number
  gid: number
  user: string
  group: string
  /** True when the uid was derived rather than found in passwd. */
  dynamic: boolean
}

interface Account {
  name: string
  id: number
  primaryGid: number | null
}

function parseIdFile(text: string, withPrimaryGid: boolean): Account[] {
  const accounts: Account[] = []
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue
    const fields = line.split(':')
    const id = Number(fields[2])
    const name = fields[0] ?? ''
    if (name === '' || fields[2] === undefined || !Number.isInteger(id) || id < 0) continue
    const primaryGid = withPrimaryGid ? Number(fields[3]) : Number.NaN
    accounts.push({ name, id, primaryGid: Number.isInteger(primaryGid) ? primaryGid : null })
  }
  return accounts
}

/** Hashes a name into the dynamic range and probes upward past every id in use. */
export function dynamicId(name: string, used: ReadonlySet<number>): number {
  const hash = createHash('sha256').update(name).digest().readUInt32BE(0)
  for (let step = 0; step < DYNAMIC_ID_COUNT; step++) {
    const id = DYNAMIC_ID_BASE + ((hash + step) % DYNAMIC_ID_COUNT)
    if (!used.has(id)) return id
  }
  throw new Error(`no free dynamic id for "${name}": all ${DYNAMIC_ID_COUNT} ids from ${DYNAMIC_ID_BASE} are in use`)
}

/**
 * Resolves the profile's account. A missing user becomes the dynamic user
 * `blackhole-<service>`; uid and gid of a dynamic user are the same number.
 * A named group that does not exist gets a dynamic gid from its name.
 */
export function resolveIdentity(profile: Profile, serviceName: string, passwdText: string, groupText: string): Identity {
  const users = parseIdFile(passwdText, true)
  const groups = parseIdFile(groupText, false)
  // Ids taken as either uid or gid, so a dynamic uid and gid can share one number.
  const used = new Set([...users.map((u) => u.id), ...groups.map((g) => g.id)])

  const userName = profile.user ?? `blackhole-${serviceName}`
  const account = profile.user === null ? undefined : users.find((u) => u.name === profile.user)
  const uid = account?.id ?? dynamicId(userName, used)

  let gid: number
  let groupName: string
  if (profile.group !== null) {
    groupName = profile.group
    gid = groups.find((g) => g.name === profile.group)?.id ?? dynamicId(profile.group, used)
  } else if (account !== undefined && account.primaryGid !== null) {
    gid = account.primaryGid
    groupName = groups.find((g) => g.id === gid)?.name ?? String(gid)
  } else {
    gid = uid
    groupName = userName
  }
  // Another name for id 0 (such as a `toor` account) must not slip past the
  // parser's check for `root`.
  if (uid === 0 || gid === 0) {
    throw new PolicyCompileError(
      'INVALID_INPUT',
      `profile ${profile.name} resolves to ${uid === 0 ? `user ${userName} (uid 0)` : `group ${groupName} (gid 0)`}; a sandboxed service never runs with id 0: name an unprivileged account`,
    )
  }
  return { uid, gid, user: userName, group: groupName, dynamic: account === undefined }
}
