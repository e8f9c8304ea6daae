import { describe, expect, test } from 'vitest'
import { parseSize } from '@blackhole/policy'

describe('parseSize', () => {
  test('units have one meaning each', () => {
    const cases: [string | number, number][] = [
      [4096, 4096],
      ['4096', 4096],
      ['512KiB', 512 * 1024],
      ['512MiB', 512 * 1024 ** 2],
      ['2GiB', 2 * 1024 ** 3],
      ['1TiB', 1024 ** 4],
      ['1K', 1024],
      ['1M', 1024 ** 2],
      ['1G', 1024 ** 3],
      ['1T', 1024 ** 4],
      ['1KB', 1000],
      ['1MB', 1000 ** 2],
      ['1GB', 1000 ** 3],
      ['1TB', 1000 ** 4],
      ['1.5GiB', 1.5 * 1024 ** 3],
      [' 64 MiB ', 64 * 1024 ** 2],
    ]
    for (const [input, bytes] of cases) expect(parseSize(input), String(input)).toEqual({ ok: true, bytes })
  })

  test('rejects zero, negative and fractional bytes', () => {
    expect(parseSize(0)).toMatchObject({ ok: false, message: expect.stringContaining('invalid size 0: must be greater than zero') })
    expect(parseSize('-1MiB')).toMatchObject({ ok: false, message: expect.stringContaining('invalid size "-1MiB": must be greater than zero') })
    expect(parseSize(1.5)).toMatchObject({ ok: false, message: expect.stringContaining('invalid size 1.5: not a whole number of bytes') })
    expect(parseSize('0.3K')).toMatchObject({ ok: false, message: expect.stringContaining('not a whole number of bytes') })
  })

  test('rejects overflow and unknown units', () => {
    expect(parseSize('9000TiB')).toMatchObject({ ok: false, message: expect.stringContaining('larger than 9007199254740991 bytes') })
    expect(parseSize('5mb')).toMatchObject({ ok: false, message: expect.stringContaining('unknown unit "mb"') })
    expect(parseSize('lots')).toMatchObject({ ok: false, message: expect.stringContaining('invalid size "lots"') })
    expect(parseSize(true)).toMatchObject({ ok: false, message: expect.stringContaining('invalid size boolean true') })
  })

  test('message documents the units', () => {
    const result = parseSize('1XB')
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.message).toContain('KiB/MiB/GiB/TiB and K/M/G/T are powers of 1024, KB/MB/GB/TB are powers of 1000')
  })
})
