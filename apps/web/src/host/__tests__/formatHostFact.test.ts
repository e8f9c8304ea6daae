import { describe, expect, it } from 'vitest'
import { formatHostFact, humanizeKey } from '../formatHostFact.js'

describe('humanizeKey', () => {
  it('should split camelCase', () => {
    expect(humanizeKey('landlockAbi')).toBe('landlock abi')
    expect(humanizeKey('seccompNotify')).toBe('seccomp notify')
  })

  it('should split snake_case', () => {
    expect(humanizeKey('user_namespaces')).toBe('user namespaces')
  })
})

describe('formatHostFact', () => {
  it('should format scalars', () => {
    expect(formatHostFact(true)).toBe('yes')
    expect(formatHostFact(false)).toBe('no')
    expect(formatHostFact(7)).toBe('7')
    expect(formatHostFact(null)).toBe('unknown')
  })

  it('should join arrays', () => {
    expect(formatHostFact(['memory', 'pids'])).toBe('memory, pids')
    expect(formatHostFact([])).toBe('none')
  })

  it('should flatten objects', () => {
    expect(formatHostFact({ version: 1, controllers: ['memory', 'freezer'] })).toBe(
      'version 1; controllers memory, freezer',
    )
  })
})
