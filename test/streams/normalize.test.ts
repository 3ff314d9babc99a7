import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { normalize, storedFingerprint } from '../../src/streams/normalize.js'
import {
  canonicalJson,
  checkProperties,
  PROPERTIES_MAX_BYTES,
} from '../../src/streams/properties.js'
import { propertiesValid } from '../reliability/support/hostile.js'

const context = { transport: 'rest' as const, receivedAt: Date.UTC(2026, 10, 26) }

/** The same JSON value with the keys of every object in another order. */
function shuffled(value: unknown, order: (keys: string[]) => string[]): unknown {
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map((child) => shuffled(child, order))
  const copy: Record<string, unknown> = {}
  for (const key of order(Object.keys(value)))
    copy[key] = shuffled((value as Record<string, unknown>)[key], order)
  return copy
}

const properties = fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 4 }), {
  maxKeys: 8,
})
const fingerprintOf = (event: Record<string, unknown>) => {
  const result = normalize(event, context)
  if (!result.ok) throw new Error(JSON.stringify(result.errors))
  return result.fingerprint
}

describe('normalize: fingerprints and properties', () => {
  it('gives a re-send the same fingerprint whatever the key order, at every depth', () => {
    fc.assert(
      fc.property(properties.filter(propertiesValid), (props) => {
        const event = { id: 'e1', type: 't', properties: props }
        const reversed = {
          properties: shuffled(props, (keys) => keys.reverse()),
          type: 't',
          id: 'e1',
        }
        expect(fingerprintOf(reversed)).toBe(fingerprintOf(event))
        expect(canonicalJson(shuffled(props, (keys) => keys.reverse()))).toBe(canonicalJson(props))
      }),
    )
  })

  it('gives other content another fingerprint', () => {
    fc.assert(
      fc.property(
        properties.filter(propertiesValid),
        fc.string({ minLength: 1, maxLength: 6 }),
        (props, key) => {
          fc.pre(!(key in props) && propertiesValid({ ...props, [key]: 1 }))
          expect(
            fingerprintOf({ id: 'e1', type: 't', properties: { ...props, [key]: 1 } }),
          ).not.toBe(fingerprintOf({ id: 'e1', type: 't', properties: props }))
        },
      ),
    )
    const base = { id: 'e1', type: 't' }
    const prints = [
      base,
      { ...base, source: 's' },
      { ...base, userId: 's' },
      { ...base, sessionId: 's' },
      { ...base, timestamp: 1 },
      { ...base, properties: {} },
    ].map(fingerprintOf)
    expect(new Set(prints).size).toBe(prints.length)
  })

  it('takes an empty source, userId or sessionId as no value, as storage does: the same event, the same fingerprint', () => {
    const base = { id: 'e1', type: 't' }
    for (const field of ['source', 'userId', 'sessionId']) {
      const result = normalize({ ...base, [field]: '' }, context)
      expect(result.ok && field in result.event, field).toBe(false)
      expect(fingerprintOf({ ...base, [field]: '' }), field).toBe(fingerprintOf(base))
    }
  })

  it('gives an event read back from storage the fingerprint it had when it was sent', () => {
    const sent = [
      {
        id: 'e1',
        type: 't',
        properties: { b: 1, a: [{ d: 1, c: 2 }] },
        source: 's',
        userId: 'u',
        sessionId: 'x',
      },
      { id: 'e2', type: 't', timestamp: '2026-11-20T10:00:00.123Z' },
      { id: 'e3', type: 't', timestamp: context.receivedAt - 1 },
    ]
    for (const raw of sent) {
      const result = normalize(raw, context)
      if (!result.ok) throw new Error(JSON.stringify(result.errors))
      // As storage gives it back: a plain object, properties parsed from their stored text.
      const stored = {
        ...result.event,
        ...(result.event.properties && {
          properties: JSON.parse(result.propertiesText!) as Record<string, unknown>,
        }),
      }
      expect(storedFingerprint(stored), raw.id).toBe(result.fingerprint)
    }
  })

  it("writes an SDK message's properties with and without its sending time in one pass, as canonicalJson writes each", () => {
    const sdk = fc.constantFrom(
      { key: '$segment', member: 'sentAt' },
      { key: '$posthog', member: 'sent_at' },
    )
    // Integer-like keys too: JavaScript enumerates them first, whatever the order they were set in.
    const key = fc.oneof(fc.string({ maxLength: 6 }), fc.nat({ max: 20 }).map(String))
    const members = fc.dictionary(key, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 })
    fc.assert(
      fc.property(
        sdk,
        members,
        members,
        fc.option(fc.jsonValue({ maxDepth: 1 }), { nil: undefined }),
        (leaveOut, outer, inner, sentAt) => {
          const message = sentAt === undefined ? inner : { ...inner, [leaveOut.member]: sentAt }
          const props = { ...outer, [leaveOut.key]: message }
          fc.pre(propertiesValid(props))
          const checked = checkProperties(props, 'properties', leaveOut)
          if (!checked.ok) throw new Error(JSON.stringify(checked.issues))
          const { [leaveOut.member]: _sentAt, ...rest } = message
          expect(checked.text).toBe(canonicalJson(props))
          expect(checked.textLeavingOut).toBe(canonicalJson({ ...props, [leaveOut.key]: rest }))
        },
      ),
      { numRuns: 2000 },
    )
  })

  it('gives an SDK message re-sent with a new sentAt the same fingerprint, also when read back from storage', () => {
    const message = (sentAt: string) => ({
      id: 'm1',
      type: 'Order_Completed',
      timestamp: Date.UTC(2026, 10, 26),
      properties: {
        total: 12,
        $segment: { type: 'track', event: 'Order Completed', context: { ip: '::1' }, sentAt },
      },
    })
    const first = normalize(message('2026-11-26T10:00:00.000Z'), context)
    const again = normalize(message('2026-11-26T10:00:07.000Z'), context)
    if (!first.ok || !again.ok) throw new Error('not valid')
    expect(again.fingerprint).toBe(first.fingerprint)
    const stored = { ...first.event, properties: JSON.parse(first.propertiesText!) as object }
    expect(storedFingerprint(stored as typeof first.event)).toBe(first.fingerprint)
  })

  it('sorts keys at every depth in the canonical JSON', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[{"y":2,"z":1}]},"b":1}',
    )
    expect(canonicalJson('x')).toBe('"x"')
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${(i * 7) % 40}`, i]))
    expect(Object.keys(JSON.parse(canonicalJson(many)) as object)).toEqual(Object.keys(many).sort())
  })

  it('accepts exactly the properties the independent oracle accepts (nesting, size, forbidden keys)', () => {
    const hostileKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'a', 'b')
    const tree = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.jsonValue({ maxDepth: 1 }),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(hostileKey, tie('node'), { maxKeys: 3 }),
      ),
    })).node
    fc.assert(
      fc.property(fc.dictionary(hostileKey, tree, { maxKeys: 4 }), (props) => {
        const parsed = JSON.parse(JSON.stringify(props)) as object
        expect(checkProperties(parsed).ok).toBe(propertiesValid(parsed))
      }),
    )
  })

  it('counts the size limit in UTF-8 bytes, at the boundary', () => {
    const sized = (bytes: number, char: string) => ({
      k: char.repeat(Math.floor((bytes - 8) / Buffer.byteLength(char))),
    })
    for (const char of ['x', 'é', '✓', '😀']) {
      const fits = sized(PROPERTIES_MAX_BYTES, char)
      expect(Buffer.byteLength(JSON.stringify(fits))).toBeLessThanOrEqual(PROPERTIES_MAX_BYTES)
      expect(checkProperties(fits).ok).toBe(true)
      const over = { ...fits, z: char.repeat(4) }
      expect(Buffer.byteLength(JSON.stringify(over))).toBeGreaterThan(PROPERTIES_MAX_BYTES)
      expect(checkProperties(over)).toEqual({
        ok: false,
        issues: [
          {
            path: 'properties',
            message: `must be at most ${PROPERTIES_MAX_BYTES} bytes serialized`,
          },
        ],
      })
    }
  })

  it('refuses nesting past 32 levels without walking the rest, and names forbidden keys by path', () => {
    let deep: unknown = {}
    for (let i = 0; i < 10_000; i++) deep = { a: deep }
    expect(checkProperties(deep as object)).toEqual({
      ok: false,
      issues: [{ path: 'properties', message: 'nesting is 33 levels, at most 32 allowed' }],
    })
    const result = normalize(
      JSON.parse('{"type":"t","properties":{"a":[{"constructor":1}],"__proto__":{}}}'),
      context,
    )
    expect(result).toEqual({
      ok: false,
      errors: [
        {
          path: 'properties.a.0.constructor',
          message: 'key is not allowed (__proto__, constructor, prototype)',
        },
        {
          path: 'properties.__proto__',
          message: 'key is not allowed (__proto__, constructor, prototype)',
        },
      ],
    })
  })

  it('rejects numbers JSON cannot carry (1e400, -1e400) naming their paths, and keeps huge finite integers', () => {
    const result = normalize(
      JSON.parse(
        '{"type":"t","properties":{"big":1e400,"list":[1,-1e400],"fine":123456789012345678901234567890,"tiny":1e-400}}',
      ),
      context,
    )
    expect(result).toEqual({
      ok: false,
      errors: [
        { path: 'properties.big', message: expect.stringContaining('finite number') },
        { path: 'properties.list.1', message: expect.stringContaining('finite number') },
      ],
    })
    const finite = normalize(
      JSON.parse('{"type":"t","properties":{"fine":123456789012345678901234567890,"tiny":1e-400}}'),
      context,
    )
    expect(finite.ok).toBe(true)
  })

  it('lists at most 20 issues, the last counting the rest, however many the event has', () => {
    const unknown = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, 1]))
    const wide = normalize({ type: 't', ...unknown }, context)
    expect(wide.ok).toBe(false)
    if (wide.ok) return
    expect(wide.errors).toHaveLength(20)
    expect(wide.errors[19]).toEqual({ path: '', message: 'and 4981 more issues' })

    // forbidden keys under many parents, with the counts of zod's issues and of properties' added up
    const parents = Object.fromEntries(
      Array.from({ length: 300 }, (_, i) => [
        `p${i}`,
        JSON.parse('{"__proto__":1,"constructor":2,"prototype":3}'),
      ]),
    )
    const forbidden = normalize({ type: 'bad type', properties: parents }, context)
    if (forbidden.ok) throw new Error('accepted')
    expect(forbidden.errors).toHaveLength(20)
    expect(forbidden.errors[0]!.path).toBe('type')
    expect(forbidden.errors[19]).toEqual({ path: '', message: `and ${1 + 900 - 19} more issues` })
  })

  it('cuts every path to 256 characters, however long the keys on the way', () => {
    const key = 'k'.repeat(100_000)
    let value: unknown = JSON.parse('{"__proto__":1}')
    for (let i = 0; i < 30; i++) value = { [key]: value }
    const result = normalize({ type: 't', properties: value, [key]: 1 }, context)
    if (result.ok) throw new Error('accepted')
    expect(result.errors.length).toBe(2)
    for (const issue of result.errors) expect(issue.path.length).toBeLessThanOrEqual(256)
    expect(result.errors.map((issue) => issue.message).join(' ').length).toBeLessThan(400)
  })
})

describe('normalize: event types', () => {
  it("accepts a type with one leading $ (PostHog's own events), and refuses any other use of $", () => {
    for (const type of [
      '$pageview',
      '$feature_flag_called',
      '$exception.handled',
      'page_view',
      'checkout.completed',
      'a:b/c-d',
    ]) {
      expect(normalize({ type }, context).ok, type).toBe(true)
    }
    for (const type of [
      '$',
      '$$pageview',
      '$.x',
      '$_x',
      'page$view',
      'pageview$',
      ' $pageview',
      '_x',
      '.x',
    ]) {
      const result = normalize({ type }, context)
      expect(result.ok ? [] : result.errors, type).toEqual([
        {
          path: 'type',
          message:
            'must match ^\\$?[A-Za-z0-9][A-Za-z0-9_.:/-]*$ (e.g. page_view, checkout.completed, $pageview)',
        },
      ])
    }
  })
})
