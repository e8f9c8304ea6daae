import { createHash } from 'node:crypto'
import { isMap, isScalar, parseDocument } from 'yaml'
import type { PrismaClient } from '../generated/prisma/client.js'

export interface StoredProfile {
  name: string
  version: number
  /** True when this call wrote the version. */
  created: boolean
}

/**
 * Cuts each profile's own text out of a config file: the lines from the
 * profile's key under `security_profiles` to the end of its value, with the
 * common indentation removed. The text is stored as written, comments
 * included, so a version shows what the operator wrote.
 */
export function profileSources(configText: string): Map<string, string> {
  const sources = new Map<string, string>()
  const document = parseDocument(configText, { keepSourceTokens: false })
  const section = document.get('security_profiles', true)
  if (!isMap(section)) return sources
  for (const pair of section.items) {
    if (!isScalar(pair.key) || pair.key.range === undefined || pair.key.range === null) continue
    const valueRange = (pair.value as { range?: [number, number, number] } | null)?.range
    const start = configText.lastIndexOf('\n', pair.key.range[0] - 1) + 1
    const end = valueRange ? valueRange[1] : pair.key.range[2]
    sources.set(String(pair.key.value), dedent(configText.slice(start, end)))
  }
  return sources
}

function dedent(text: string): string {
  const lines = text.replace(/\s+$/, '').split('\n')
  const indents = lines.filter((line) => line.trim() !== '').map((line) => /^ */.exec(line)![0].length)
  const common = Math.min(...indents)
  return lines.map((line) => line.slice(common)).join('\n') + '\n'
}

/**
 * Stores each profile's text as a ProfileVersion. A new version is written
 * only when the text differs from the profile's current version, so
 * restarting with an unchanged config adds nothing.
 */
export async function storeProfiles(
  prisma: PrismaClient,
  configText: string,
  profileNames: string[],
  author: string,
): Promise<StoredProfile[]> {
  const sources = profileSources(configText)
  const stored: StoredProfile[] = []
  for (const name of profileNames) {
    const yaml = sources.get(name)
    if (yaml === undefined) continue
    stored.push(await storeProfile(prisma, name, yaml, author))
  }
  return stored
}

async function storeProfile(prisma: PrismaClient, name: string, yaml: string, author: string): Promise<StoredProfile> {
  const sha256 = createHash('sha256').update(yaml, 'utf8').digest('hex')
  return prisma.$transaction(async (tx) => {
    const current = await tx.profile.findUnique({ where: { name } })
    if (current !== null) {
      const latest = await tx.profileVersion.findUnique({
        where: { profileName_version: { profileName: name, version: current.currentVersion } },
      })
      if (latest?.sha256 === sha256) return { name, version: current.currentVersion, created: false }
    }
    const version = (current?.currentVersion ?? 0) + 1
    await tx.profile.upsert({
      where: { name },
      create: { name, currentVersion: version },
      update: { currentVersion: version },
    })
    await tx.profileVersion.create({ data: { profileName: name, version, yaml, sha256, author } })
    return { name, version, created: true }
  })
}

/** Returns the text of a profile's current version, or null when none is stored. */
export async function currentProfileYaml(prisma: PrismaClient, name: string): Promise<string | null> {
  const profile = await prisma.profile.findUnique({ where: { name } })
  if (profile === null) return null
  const version = await prisma.profileVersion.findUnique({
    where: { profileName_version: { profileName: name, version: profile.currentVersion } },
  })
  return version?.yaml ?? null
}
