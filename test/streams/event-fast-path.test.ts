import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { EventSchema } from '../../src/streams/event.js'
import { certainlyValidEvent } from '../../src/streams/event-fast-path.js'

/** Strings at and around every bound of the schema, with and without lone surrogates. */
const boundedString = fc.oneof(
  fc.string({ maxLength: 4 }),
  fc.constantFrom(0, 1, 127, 128, 129, 255, 256, 257).map((n) => 'x'.repeat(n)),
  fc.constantFrom('\ud800', 'a\udc00', '\ud83d\ude00', 'é', ''),
  fc.string({ unit: 'binary', maxLength: 6 }),
)
const typeLike = fc.oneof(
  fc.constantFrom('page_view', '$pageview', 'a', 'checkout.completed', '$', '$$x', '-a', 'a b'),
  fc.stringMatching(/^\$?[A-Za-z0-9][A-Za-z0-9_.:/-]{0,130}$/),
  boundedString,
)
const timestampLike = fc.oneof(
  fc.integer({ min: -10, max: 4_102_444_800_010 }),
  fc.constantFrom(0, -0, 4_102_444_799_999, 4_102_444_800_000, 1.5, NaN, Infinity, -1),
  fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
  fc.constantFrom('2026-11-26T10:00:00.123Z', '2026-02-30T00:00:00Z', '2100-01-01T00:00:00Z', 'x'),
)
const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(undefined, null, [], {}, Object.create(null), new Date(0), { constructor: 1 }),
)
const valid = fc.record(
  {
    id: fc.string({ minLength: 1, maxLength: 128 }).filter((s) => s.isWellFormed()),
    type: fc.stringMatching(/^\$?[A-Za-z0-9][A-Za-z0-9_.:/-]{0,100}$/),
    timestamp: fc.oneof(
      fc.integer({ min: 0, max: 4_102_444_799_999 }),
      fc
        .date({ min: new Date(0), max: new Date(4_102_444_799_999), noInvalidDate: true })
        .map((date) => date.toISOString()),
    ),
    source: fc.string({ maxLength: 128 }),
    userId: fc.string({ maxLength: 256 }),
    sessionId: fc.string({ maxLength: 256 }),
    properties: fc.dictionary(
      fc.string().filter((key) => key !== 'constructor'),
      fc.jsonValue({ maxDepth: 2 }),
    ),
  },
  { requiredKeys: ['type'] },
)

/** What may be put in place of a field: values near its bounds, and values of any type. */
const edges: Record<string, fc.Arbitrary<unknown>> = {
  id: fc.oneof(boundedString, anyValue),
  type: fc.oneof(typeLike, anyValue),
  timestamp: fc.oneof(timestampLike, anyValue),
  source: fc.oneof(boundedString, anyValue),
  userId: fc.oneof(boundedString, anyValue),
  sessionId: fc.oneof(boundedString, anyValue),
  properties: fc.oneof(
    fc.dictionary(fc.constantFrom('a', 'constructor', '__proto__'), fc.jsonValue({ maxDepth: 1 })),
    anyValue,
  ),
  op: anyValue,
  extra: anyValue,
}

/** A valid event with one or two of its fields replaced or added: the cases next to the boundary. */
const candidate = valid
  .chain((event) =>
    fc
      .uniqueArray(fc.constantFrom(...Object.keys(edges)), { minLength: 1, maxLength: 2 })
      .chain((keys) =>
        fc.tuple(...keys.map((key) => edges[key]!)).map((values) => {
          const changed: Record<string, unknown> = { ...event }
          keys.forEach((key, i) => (changed[key] = values[i]))
          return changed
        }),
      ),
  )
  // as a client's JSON arrives, and as an in-process caller may hand it over
  .chain((event) => fc.constantFrom(event, JSON.parse(JSON.stringify(event) ?? 'null') as unknown))

describe('certainlyValidEvent: the fast path in front of EventSchema', () => {
  it('never says valid where EventSchema says invalid', () => {
    fc.assert(
      fc.property(candidate, (event) => {
        if (certainlyValidEvent(event)) expect(EventSchema.safeParse(event).success).toBe(true)
      }),
      { numRuns: 20_000 },
    )
  })

  it('says valid for the events clients send (else it would save nothing)', () => {
    fc.assert(
      fc.property(valid, (event) => {
        const sent = JSON.parse(JSON.stringify(event)) as unknown
        expect(EventSchema.safeParse(sent).success).toBe(true)
        expect(certainlyValidEvent(sent)).toBe(true)
      }),
      { numRuns: 5_000 },
    )
  })

  it('leaves every bound to zod: one past each is not certain', () => {
    const base = { type: 't' }
    for (const event of [
      { ...base, id: '' },
      { ...base, id: 'x'.repeat(129) },
      { ...base, id: '\ud800' },
      { type: 'x'.repeat(129) },
      { type: '-x' },
      { ...base, timestamp: 4_102_444_800_000 },
      { ...base, timestamp: 1.5 },
      { ...base, timestamp: '2026-02-30T00:00:00Z' },
      { ...base, source: 'x'.repeat(129) },
      { ...base, userId: 'x'.repeat(257) },
      { ...base, sessionId: 'a\udc00' },
      { ...base, properties: [] },
      { ...base, properties: null },
      { ...base, op: 'publish' },
      { id: 'e1' },
    ]) {
      expect(certainlyValidEvent(event), JSON.stringify(event)).toBe(false)
      expect(EventSchema.safeParse(event).success, JSON.stringify(event)).toBe(false)
    }
  })
})
