import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { hostFacts } from '@blackhole/native'

describe('hostFacts', () => {
  it('matches the kernel', () => {
    const facts = hostFacts()
    const status = readFileSync('/proc/self/status', 'utf8')
    const bounding = /^CapBnd:\s*(\w+)/m.exec(status)?.[1]
    expect(facts.boundingSet).toBe(bounding)
    expect(facts.capLastCap).toBe(Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8')))
    expect(facts.landlockAbi).toBeGreaterThanOrEqual(1)
    expect(facts.seccompNotify).toBe(true)
    expect(facts.pidfd).toBe(true)
    expect(facts.clone3).toBe(true)
  })
})
