import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_TIMESTAMP_MS, parseRfc3339 } from '../../src/streams/rfc3339.js'

/** The parser this one replaced, kept as the oracle: a regular expression, a calendar check, Date.parse. */
function oracle(text: string): number | undefined {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.exec(text)
  if (!m) return undefined
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map(Number)
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate()
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return undefined
  if (hour > 23 || minute > 59 || second > 59) return undefined
  const fraction = m[7] ? m[7].slice(0, 4).padEnd(4, '0') : '.000'
  const ms = Date.parse(
    `${m.slice(1, 4).join('-')}T${m.slice(4, 7).join(':')}${fraction}${m[8]!.toUpperCase()}`,
  )
  return Number.isFinite(ms) && ms >= 0 && ms < MAX_TIMESTAMP_MS ? ms : undefined
}

const pad = (n: number, width: number) => String(n).padStart(width, '0')

/** Date-times as clients write them, right and wrong: every field may be out of its range. */
const dateTimes = fc
  .record({
    year: fc.integer({ min: 0, max: 9999 }),
    month: fc.integer({ min: 0, max: 13 }),
    day: fc.integer({ min: 0, max: 32 }),
    hour: fc.integer({ min: 0, max: 25 }),
    minute: fc.integer({ min: 0, max: 61 }),
    second: fc.integer({ min: 0, max: 61 }),
    fraction: fc.option(fc.stringMatching(/^[0-9]{0,9}$/)),
    separator: fc.constantFrom('T', 't', ' ', 'x'),
    zone: fc.oneof(
      fc.constantFrom('Z', 'z', '', 'Q', '+00:00', '-00:00'),
      fc
        .record({
          sign: fc.constantFrom('+', '-'),
          hours: fc.integer({ min: 0, max: 25 }),
          minutes: fc.integer({ min: 0, max: 61 }),
        })
        .map(({ sign, hours, minutes }) => `${sign}${pad(hours, 2)}:${pad(minutes, 2)}`),
    ),
  })
  .map(
    (t) =>
      `${pad(t.year, 4)}-${pad(t.month, 2)}-${pad(t.day, 2)}${t.separator}${pad(t.hour, 2)}:${pad(t.minute, 2)}:${pad(t.second, 2)}${t.fraction === null ? '' : `.${t.fraction}`}${t.zone}`,
  )

describe('parseRfc3339', () => {
  it('reads what the old regular-expression parser read, and refuses what it refused', () => {
    fc.assert(
      fc.property(dateTimes, (text) => {
        expect(parseRfc3339(text)).toBe(oracle(text))
      }),
      { numRuns: 20_000 },
    )
  })

  it('agrees with it on instants across the whole range, in every offset', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: MAX_TIMESTAMP_MS + 86_400_000 }),
        fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
        (ms, offset) => {
          const local = new Date(ms + offset * 60_000).toISOString().slice(0, -1)
          const sign = offset < 0 ? '-' : '+'
          const zone = `${sign}${pad(Math.floor(Math.abs(offset) / 60), 2)}:${pad(Math.abs(offset) % 60, 2)}`
          const text = `${local}${zone}`
          expect(parseRfc3339(text)).toBe(oracle(text))
        },
      ),
      { numRuns: 20_000 },
    )
  })

  it('refuses text that is not a date-time, in any length', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        expect(parseRfc3339(text)).toBe(oracle(text))
      }),
    )
    for (const text of [
      '',
      '2026-11-26',
      '2026-11-26T10:00:00',
      '2026-11-26T10:00:00.Z',
      '2026-11-26T10:00:00.123Z ',
      '2026-11-26T10:00:00+0100',
      '+2026-11-26T10:00:00Z',
      '2026-11-26T1a:00:00Z',
    ])
      expect(parseRfc3339(text), text).toBeUndefined()
  })

  it('reads leap days, the range ends and cut fractions', () => {
    expect(parseRfc3339('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29))
    expect(parseRfc3339('2026-02-29T00:00:00Z')).toBeUndefined()
    expect(parseRfc3339('2000-02-29T00:00:00Z')).toBe(Date.UTC(2000, 1, 29))
    expect(parseRfc3339('1970-01-01T00:00:00Z')).toBe(0)
    expect(parseRfc3339('1970-01-01T00:00:00+00:01')).toBeUndefined()
    expect(parseRfc3339('2099-12-31T23:59:59.999999Z')).toBe(MAX_TIMESTAMP_MS - 1)
    expect(parseRfc3339('2100-01-01T00:00:00Z')).toBeUndefined()
    expect(parseRfc3339('2026-11-26T10:00:00.1239Z')).toBe(Date.UTC(2026, 10, 26, 10, 0, 0, 123))
    expect(parseRfc3339('2026-11-26 10:00:00.5+05:30')).toBe(Date.UTC(2026, 10, 26, 4, 30, 0, 500))
  })
})
