import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  clickHouseTimeWriter,
  toClickHouseTime,
} from '../../../src/adapters/clickhouse/clickhouse-time.js'

const oracle = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '')

describe('clickHouseTimeWriter', () => {
  it('writes every time as Date does, in any order, across days, years and leap days', () => {
    // Runs of times, as an insert meets them: repeats, neighbours, jumps across days and centuries.
    const time = fc.oneof(
      fc.integer({ min: 0, max: 4_102_444_800_000 }),
      fc.constantFrom(0, 86_399_999, 86_400_000, 951_782_400_000, 4_102_444_799_999),
      fc.double({ min: -1e13, max: 3e14, noNaN: true }),
    )
    fc.assert(
      fc.property(fc.array(time, { maxLength: 50 }), (times) => {
        const write = clickHouseTimeWriter()
        for (const ms of times) expect(write(ms)).toBe(oracle(ms))
      }),
      { numRuns: 2000 },
    )
  })

  it('keeps the slow path for times Date writes with a six-digit year', () => {
    const write = clickHouseTimeWriter()
    expect(write(253_402_300_800_000)).toBe(toClickHouseTime(253_402_300_800_000))
    expect(write(253_402_300_799_999)).toBe('9999-12-31 23:59:59.999')
  })
})
