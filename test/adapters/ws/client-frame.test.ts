import { describe, expect, it } from 'vitest'
import { parseClientFrame } from '../../../src/adapters/ws/client-frame.js'
import { compilePatterns, patternError } from '../../../src/streams/type-patterns.js'

const limits = { maxEventsPerFrame: 3, maxSubscriptionTypes: 2 }
const parse = (value: unknown, binary = false) =>
  parseClientFrame(
    Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    binary,
    limits,
  )

describe('client frames', () => {
  it('reads a bare event as a one-event publish and an array as a publish of its events', () => {
    expect(parse({ type: 'a' })).toEqual({ kind: 'publish', events: [{ type: 'a' }] })
    expect(parse([{ type: 'a' }, { type: 'b' }])).toEqual({
      kind: 'publish',
      events: [{ type: 'a' }, { type: 'b' }],
    })
  })

  it('reads publish with and without ref, ping, unsubscribe and subscribe', () => {
    expect(parse({ op: 'publish', ref: 'r1', events: [{ type: 'a' }] })).toEqual({
      kind: 'publish',
      ref: 'r1',
      events: [{ type: 'a' }],
    })
    expect(parse({ op: 'publish', events: [1] })).toEqual({ kind: 'publish', events: [1] })
    expect(parse({ op: 'ping' })).toEqual({ kind: 'ping' })
    expect(parse({ op: 'unsubscribe' })).toEqual({ kind: 'unsubscribe' })
    expect(parse({ op: 'subscribe', types: ['a', 'b.*'] })).toMatchObject({
      kind: 'subscribe',
      types: ['a', 'b.*'],
    })
  })

  it('leaves the events themselves to the pipeline: anything inside the array is taken', () => {
    expect(parse([null, 'x', { op: 'publish' }])).toEqual({
      kind: 'publish',
      events: [null, 'x', { op: 'publish' }],
    })
  })

  it.each([
    ['binary', Buffer.from('{}'), 'invalid_frame'],
    ['malformed JSON', '{"a":', 'invalid_json'],
    ['a string', '"hi"', 'invalid_frame'],
    ['null', 'null', 'invalid_frame'],
    ['an empty array', [], 'invalid_frame'],
    ['too many events', [{}, {}, {}, {}], 'too_many_events'],
    ['too many events in publish', { op: 'publish', events: [{}, {}, {}, {}] }, 'too_many_events'],
    ['an unknown op', { op: 'PING' }, 'invalid_frame'],
    ['a ref that is not a string', { op: 'publish', ref: 1, events: [{}] }, 'invalid_frame'],
    ['an extra key', { op: 'unsubscribe', types: [] }, 'invalid_frame'],
    ['too many subscription types', { op: 'subscribe', types: ['a', 'b', 'c'] }, 'invalid_frame'],
    ['a subscription type that is not a string', { op: 'subscribe', types: [1] }, 'invalid_frame'],
  ])('refuses %s', (_name, value, code) => {
    const frame = Buffer.isBuffer(value) ? parseClientFrame(value, true, limits) : parse(value)
    expect(frame).toMatchObject({ kind: 'unusable', code })
  })

  it('names the position of malformed JSON', () => {
    expect(parse('{"type": x}')).toEqual({
      kind: 'unusable',
      code: 'invalid_json',
      message: 'malformed JSON at position 9',
    })
  })
})

describe('type patterns', () => {
  it('matches exact types, prefixes ending in .* and *', () => {
    const matches = compilePatterns(['page_view', 'checkout.*'])
    expect(
      [
        'page_view',
        'checkout.completed',
        'checkout.step.2',
        'checkout',
        'page_views',
        'checkoutx.y',
      ].map(matches),
    ).toEqual([true, true, true, false, false, false])
    expect(compilePatterns(['*'])('anything')).toBe(true)
  })

  it('refuses patterns that would never match what was meant', () => {
    expect(
      ['checkout*', '*.completed', 'a.*.*', '', ' x', 'x'.repeat(129)]
        .map(patternError)
        .every((e) => e !== undefined),
    ).toBe(true)
    expect(['a', 'a.*', '*', 'a:b/c-d_e'].map(patternError)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ])
  })
})
