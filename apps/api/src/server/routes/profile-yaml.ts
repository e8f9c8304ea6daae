// Validation of one profile's YAML, as the profile editor sends it: the
// profile's own key and its settings, the same text a ProfileVersion stores.

import { formatError, parseConfig, type PolicyError, type Profile } from '@blackhole/policy'

/** One problem in a profile's YAML, with its position in that YAML (1-based). */
export interface ProfileIssue {
  line: number
  col: number
  /** Setting the problem is about, such as `web.capabilities[0]`; empty for the document. */
  path: string
  message: string
  /** The problem as `FILE:LINE:COL: path: message`. */
  text: string
}

export type ProfileValidation =
  | { ok: true; name: string; profile: Profile; configText: string }
  | { ok: false; errors: ProfileIssue[] }

const SECTION = 'security_profiles'
const INDENT = '  '

/**
 * Parses `yaml` as the single profile `expectedName` (any one name when
 * null). The text is indented under `security_profiles:` and handed to the
 * policy parser, so the same rules apply as in a config file. Error
 * positions are then shifted back to the text as sent.
 */
export function validateProfileYaml(yaml: string, expectedName: string | null): ProfileValidation {
  const file = `${expectedName ?? 'profile'}.yaml`
  const configText = `${SECTION}:\n${yaml
    .split('\n')
    .map((line) => (line === '' ? line : INDENT + line))
    .join('\n')}`
  const parsed = parseConfig(configText, file)
  if (!parsed.ok) return { ok: false, errors: parsed.errors.map((error) => shiftIssue(error)) }

  const names = Object.keys(parsed.config.profiles)
  const issue = (message: string): ProfileValidation => ({
    ok: false,
    errors: [{ line: 1, col: 1, path: '', message, text: `${file}:1:1: ${message}` }],
  })
  if (names.length !== 1) {
    const wanted = expectedName ?? 'NAME'
    return issue(`expected one profile, found ${names.length} (${names.join(', ') || 'none'}); start the text with "${wanted}:" and indent its settings`)
  }
  const name = names[0]!
  if (expectedName !== null && name !== expectedName) {
    return issue(`the profile is named "${name}" but this is profile "${expectedName}"; rename the first line to "${expectedName}:"`)
  }
  return { ok: true, name, profile: parsed.config.profiles[name]!, configText }
}

function shiftIssue(error: PolicyError): ProfileIssue {
  // Line 1 of the wrapper is the added section key; the rest moved right by INDENT.
  const line = Math.max(1, error.line - 1)
  const col = error.line <= 1 ? 1 : Math.max(1, error.col - INDENT.length)
  let path = error.path
  if (path === SECTION) path = ''
  else if (path.startsWith(`${SECTION}.`)) path = path.slice(SECTION.length + 1)
  const shifted = { ...error, line, col, path }
  return { line, col, path, message: error.message, text: formatError(shifted) }
}
