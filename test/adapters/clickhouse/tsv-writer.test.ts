import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { toClickHouseTime } from '../../../src/adapters/clickhouse/clickhouse-time.js'
import { NEWLINE, tsv, TsvWriter } from '../../../src/adapters/clickhouse/tsv-writer.js'

const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString()
const oracleTime = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '')

describe('TsvWriter', () => {
  it('writes every time as Date does, in any order, across days, years and leap days', () => {
    // Runs of times, as an insert meets them: repeats, neighbours, jumps across days and centuries.
    const time = fc.oneof(
      fc.integer({ min: 0, max: 4_102_444_800_000 }),
      fc.constantFrom(0, 86_399_999, 86_400_000, 951_782_400_000, 4_102_444_799_999),
      fc.double({ min: -1e13, max: 3e14, noNaN: true }),
    )
    fc.assert(
      fc.property(fc.array(time, { maxLength: 50 }), (times) => {
        const out = new TsvWriter()
        for (const ms of times) out.time(ms, NEWLINE)
        expect(text(out.done())).toBe(times.map((ms) => `${oracleTime(ms)}\n`).join(''))
      }),
      { numRuns: 2000 },
    )
  })

  it('writes every integer as String does, and anything else through String', () => {
    const value = fc.oneof(
      fc.integer({ min: 0, max: 4_102_444_800_000 }),
      fc.constantFrom(0, 9, 10, 99, 100, Number.MAX_SAFE_INTEGER, 2 ** 53, -1, -0, 0.5, 1e21),
      fc.maxSafeNat(),
      fc.double({ noNaN: true }),
    )
    fc.assert(
      fc.property(fc.array(value, { maxLength: 50 }), (values) => {
        const out = new TsvWriter()
        for (const v of values) out.integer(v, NEWLINE)
        expect(text(out.done())).toBe(values.map((v) => `${String(v)}\n`).join(''))
      }),
      { numRuns: 2000 },
    )
  })

  it('keeps the slow path for times Date writes with a six-digit year', () => {
    const out = new TsvWriter()
    out.time(253_402_300_800_000)
    out.time(253_402_300_799_999, NEWLINE)
    expect(text(out.done())).toBe(
      `${toClickHouseTime(253_402_300_800_000)}\t9999-12-31 23:59:59.999\n`,
    )
  })

  it('writes any fields as the string escapes them, whatever their length, across chunks', () => {
    // Short and long, ASCII and not, with and without the bytes TabSeparated escapes, and fields
    // far past a chunk: the bytes must be those of the text built with `tsv` and encoded at once.
    const field = fc.oneof(
      fc.string({ maxLength: 60 }),
      fc.string({ unit: 'binary', maxLength: 60 }),
      fc.string({
        unit: fc.constantFrom('a', '\\', '\t', '\n', '\r', '\0', 'é', '😀'),
        maxLength: 80,
      }),
      fc.nat({ max: 200_000 }).map((n) => 'x'.repeat(n) + '\t'),
    )
    const json = fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value))
    const row = fc.tuple(fc.array(field, { maxLength: 6 }), fc.option(json))
    fc.assert(
      fc.property(fc.array(row, { maxLength: 40 }), (rows) => {
        const out = new TsvWriter()
        let expected = ''
        for (const [fields, properties] of rows) {
          for (const value of fields) {
            out.field(value)
            expected += `${tsv(value)}\t`
          }
          if (properties === null) out.empty(NEWLINE)
          else out.json(properties, NEWLINE)
          expected += `${properties === null ? '' : tsv(properties)}\n`
        }
        const chunks = out.done()
        expect(Buffer.concat(chunks).equals(Buffer.from(expected))).toBe(true)
        for (const chunk of chunks) expect(chunk.length).toBeGreaterThan(0)
      }),
      { numRuns: 300 },
    )
  })

  it('never cuts a multi-byte field at the end of a chunk', () => {
    // Fields of 4-byte characters, 121 bytes a field: chunk ends fall at every offset of one.
    for (const lead of [0, 1, 2, 3, 47, 48]) {
      const out = new TsvWriter()
      let expected = ''
      out.field('a'.repeat(lead))
      expected += `${'a'.repeat(lead)}\t`
      for (let i = 0; i < 2000; i++) {
        const value = '😀'.repeat(30)
        out.field(value)
        expected += `${value}\t`
      }
      expect(text(out.done())).toBe(expected)
    }
  })
})
