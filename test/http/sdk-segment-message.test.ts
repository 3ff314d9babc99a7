import { describe, expect, it } from 'vitest'
import { normalize } from '../../src/streams/normalize.js'
import { segmentEvent, type SegmentFrame } from '../../src/http/sdk/segment-message.js'

const receivedAt = Date.UTC(2026, 10, 26, 10, 0, 5)
const frame: SegmentFrame = { receivedAt }

// The mapping owns the message it is given (a parsed body's), and extends its properties in place:
// each call gets its own copy, as each request parses its own.
const mapped = (message: unknown, with_: Partial<SegmentFrame> = {}) => {
  const result = segmentEvent(structuredClone(message), { ...frame, ...with_ })
  if (!result.ok) throw new Error(`not mapped: ${JSON.stringify(result.issues)}`)
  return result.event
}
const issuesOf = (message: unknown, with_: Partial<SegmentFrame> = {}) => {
  const result = segmentEvent(structuredClone(message), { ...frame, ...with_ })
  if (result.ok) throw new Error('mapped')
  return result.issues
}
/** The event passes the pipeline's own validation (API.md §1). */
const valid = (event: Record<string, unknown>) =>
  normalize(event, { transport: 'rest', receivedAt }).ok

/** The message back from the event: `$segment` with the mapped fields put back where they came from. */
function messageOf(event: Record<string, unknown>, field?: 'properties' | 'traits') {
  const { $segment, ...properties } = event.properties as Record<string, unknown>
  const message = { ...($segment as Record<string, unknown>) }
  if (event.id !== undefined) message.messageId = event.id
  if (field !== undefined) message[field] = properties
  return message
}

describe('segmentEvent', () => {
  it('maps a track: messageId to id, the event name to a type, userId, properties plus $segment', () => {
    const message = {
      type: 'track',
      messageId: 'm-1',
      event: 'Order Completed',
      userId: 'u-1',
      anonymousId: 'a-1',
      properties: { total: 5, items: [{ sku: 'x' }] },
      context: { ip: '1.2.3.4' },
      integrations: { All: true },
    }
    const event = mapped(message)
    expect(event).toEqual({
      id: 'm-1',
      type: 'Order_Completed',
      userId: 'u-1',
      properties: {
        total: 5,
        items: [{ sku: 'x' }],
        $segment: {
          type: 'track',
          event: 'Order Completed',
          userId: 'u-1',
          anonymousId: 'a-1',
          context: { ip: '1.2.3.4' },
          integrations: { All: true },
        },
      },
    })
    expect(valid(event)).toBe(true)
  })

  it('replaces each run of characters a type may not hold with _ and drops leading _', () => {
    const type = (event: string) => mapped({ type: 'track', event }).type
    expect(type('Order Completed')).toBe('Order_Completed')
    expect(type('  signed   up!! ')).toBe('signed_up_')
    expect(type('$pageview')).toBe('pageview')
    expect(type('checkout.completed:v2/ok-1')).toBe('checkout.completed:v2/ok-1')
    expect(type('Zahlung erhält €')).toBe('Zahlung_erh_lt_')
  })

  it.each([
    ['identify', 'traits', { plan: 'pro' }],
    ['group', 'traits', { name: 'Acme' }],
    ['page', 'properties', { path: '/pricing' }],
    ['screen', 'properties', { tab: 'feed' }],
  ] as const)('maps a %s: the call is the type, its %s the properties', (call, field, fields) => {
    const message = {
      type: call,
      messageId: `m-${call}`,
      anonymousId: 'a-2',
      [field]: fields,
      name: 'N',
    }
    const event = mapped(message)
    expect(event.type).toBe(call)
    expect(event.userId).toBe('a-2')
    expect(event.properties).toEqual({
      ...fields,
      $segment: { type: call, anonymousId: 'a-2', name: 'N' },
    })
    expect(valid(event)).toBe(true)
    expect(messageOf(event, field)).toEqual(message)
  })

  it('maps an alias: no properties of its own, previousId kept in $segment', () => {
    const event = mapped({ type: 'alias', messageId: 'm-a', userId: 'u-9', previousId: 'a-9' })
    expect(event).toEqual({
      id: 'm-a',
      type: 'alias',
      userId: 'u-9',
      properties: { $segment: { type: 'alias', userId: 'u-9', previousId: 'a-9' } },
    })
  })

  it('takes the call from a single-call path when the message names none, and refuses another', () => {
    expect(mapped({ event: 'Signed Up' }, { call: 'track' }).type).toBe('Signed_Up')
    expect(mapped({ userId: 'u' }, { call: 'identify' }).type).toBe('identify')
    expect(issuesOf({ type: 'identify', userId: 'u' }, { call: 'track' })).toEqual([
      { path: 'type', message: 'is identify, but this path takes track calls' },
    ])
  })

  it('corrects the timestamp for the device clock: timestamp − sentAt + receive time', () => {
    // The device's clock is 1 hour fast: its timestamp and sentAt are both an hour ahead.
    const event = mapped({
      type: 'track',
      event: 'e',
      timestamp: '2026-11-26T11:00:00.000Z',
      sentAt: '2026-11-26T11:00:03.000Z',
    })
    expect(event.timestamp).toBe(receivedAt - 3000)
  })

  it("uses the batch's sentAt when the message has none, and keeps it in $segment", () => {
    const event = mapped(
      { type: 'track', event: 'e', timestamp: '2026-11-26T10:00:00.000Z' },
      { sentAt: '2026-11-26T10:00:01.500Z' },
    )
    expect(event.timestamp).toBe(receivedAt - 1500)
    expect((event.properties as { $segment: object }).$segment).toMatchObject({
      sentAt: '2026-11-26T10:00:01.500Z',
    })
  })

  it('takes originalTimestamp when there is no timestamp, the timestamp as sent without sentAt, and no timestamp at all without either', () => {
    expect(
      mapped({ type: 'track', event: 'e', originalTimestamp: '2026-11-26T09:00:00.000Z' })
        .timestamp,
    ).toBe(Date.UTC(2026, 10, 26, 9))
    expect(mapped({ type: 'track', event: 'e', timestamp: 1_790_000_000_000 }).timestamp).toBe(
      1_790_000_000_000,
    )
    expect(mapped({ type: 'track', event: 'e' })).not.toHaveProperty('timestamp')
  })

  it('takes anonymousId when userId is absent, null or empty', () => {
    for (const userId of [undefined, null, ''])
      expect(mapped({ type: 'track', event: 'e', userId, anonymousId: 'a-3' }).userId).toBe('a-3')
    expect(mapped({ type: 'track', event: 'e' })).not.toHaveProperty('userId')
  })

  it("merges the batch's context beneath the message's own", () => {
    const event = mapped(
      { type: 'track', event: 'e', context: { page: { path: '/' }, library: { name: 'mine' } } },
      { context: { library: { name: 'analytics-node' }, ip: '1.2.3.4' } },
    )
    expect((event.properties as { $segment: { context: object } }).$segment.context).toEqual({
      library: { name: 'mine' },
      ip: '1.2.3.4',
      page: { path: '/' },
    })
  })

  it('keeps the write key out of the stored event', () => {
    const event = mapped({ type: 'track', event: 'e', writeKey: 'secret' })
    expect(JSON.stringify(event)).not.toContain('secret')
  })

  it('gives back the message as sent from $segment and the mapped fields, for every call', () => {
    const messages = [
      {
        type: 'track',
        messageId: 'r-1',
        event: 'Order Completed',
        userId: 'u',
        properties: { deep: { list: [1, 'two', null, { three: true }] } },
        context: { library: { name: 'x', version: '1' } },
        integrations: { Amplitude: false },
        timestamp: '2026-11-26T10:00:00.123Z',
        originalTimestamp: '2026-11-26T10:00:00.100Z',
        sentAt: '2026-11-26T10:00:01.000Z',
        _metadata: { nodeVersion: '20' },
      },
      {
        type: 'identify',
        messageId: 'r-2',
        anonymousId: 'a',
        traits: { email: 'a@b.c' },
        properties: { odd: 1 },
      },
      {
        type: 'page',
        messageId: 'r-3',
        userId: 'u',
        name: 'Home',
        category: 'Docs',
        properties: { path: '/' },
      },
      { type: 'screen', messageId: 'r-4', userId: 'u', name: 'Feed', properties: {} },
      { type: 'group', messageId: 'r-5', userId: 'u', groupId: 'g', traits: { size: 3 } },
      { type: 'alias', messageId: 'r-6', userId: 'u', previousId: 'a' },
    ] as const
    const fields = {
      track: 'properties',
      identify: 'traits',
      page: 'properties',
      screen: 'properties',
      group: 'traits',
      alias: undefined,
    } as const
    for (const message of messages) {
      const event = mapped(JSON.parse(JSON.stringify(message)))
      expect(valid(event), message.type).toBe(true)
      expect(messageOf(event, fields[message.type]), message.type).toEqual(message)
    }
  })

  describe('a message that cannot be mapped', () => {
    it.each([
      [
        'not an object',
        'track',
        [{ path: '', message: 'a message must be a JSON object, not a string' }],
      ],
      ['an array', [], [{ path: '', message: 'a message must be a JSON object, not an array' }]],
    ])('is refused when it is %s', (_name, message, issues) => {
      expect(issuesOf(message)).toEqual(issues)
    })

    it('is refused with its type named when the type is not one of the six calls', () => {
      expect(issuesOf({ type: 'purchase', messageId: 'm-x' })).toEqual([
        {
          path: 'type',
          message: 'must be one of track, identify, page, screen, group, alias, not "purchase"',
        },
      ])
      expect(segmentEvent({ type: 'purchase', messageId: 'm-x' }, frame)).toMatchObject({
        id: 'm-x',
      })
      expect(issuesOf({ event: 'e' })[0]!.path).toBe('type')
    })

    it('is refused when a track has no event, or an event with nothing to make a type of', () => {
      expect(issuesOf({ type: 'track' })).toEqual([
        { path: 'event', message: 'a track needs an event name' },
      ])
      expect(issuesOf({ type: 'track', event: ' !! ' })).toEqual([
        { path: 'event', message: 'has no letter, digit or _ . : / - to make a type of' },
      ])
      expect(issuesOf({ type: 'track', event: '___' })[0]!.path).toBe('event')
    })

    it('is refused, naming every field, when fields have the wrong JSON types', () => {
      expect(
        issuesOf({
          type: 'track',
          event: 7,
          messageId: 1,
          userId: { id: 1 },
          anonymousId: [],
          properties: 'x',
          context: 3,
          timestamp: 'yesterday',
        }).map((issue) => issue.path),
      ).toEqual([
        'messageId',
        'userId',
        'anonymousId',
        'properties',
        'context',
        'event',
        'timestamp',
      ])
      expect(issuesOf({ type: 'identify', traits: [1] })).toEqual([
        { path: 'traits', message: 'must be an object, not an array' },
      ])
      expect(
        issuesOf({ type: 'track', event: 'e', timestamp: '2026-11-26T10:00:00Z', sentAt: 5.5 })[0]!
          .path,
      ).toBe('sentAt')
    })

    it('is refused when its properties already hold $segment, which is the message’s own', () => {
      expect(issuesOf({ type: 'track', event: 'e', properties: { $segment: 1 } })).toEqual([
        { path: 'properties.$segment', message: 'is reserved for the message itself' },
      ])
    })
  })

  it('keeps a __proto__ field as a field, so that validation refuses it instead of it vanishing', () => {
    const message = JSON.parse(
      '{"type":"track","event":"e","__proto__":{"polluted":true}}',
    ) as object
    const event = mapped(message)
    const kept = (event.properties as { $segment: object }).$segment
    expect(Object.hasOwn(kept, '__proto__')).toBe(true)
    expect(Object.getPrototypeOf(kept)).toBe(Object.prototype)
    const result = normalize(event, { transport: 'rest', receivedAt })
    expect(!result.ok && result.errors.map((e) => e.path)).toEqual([
      'properties.$segment.__proto__',
    ])
  })

  it('leaves over-long ids and user ids to validation, which rejects them under the event fields', () => {
    const event = mapped({
      type: 'track',
      event: 'e',
      messageId: 'x'.repeat(129),
      userId: 'u'.repeat(257),
    })
    const result = normalize(event, { transport: 'rest', receivedAt })
    expect(result.ok).toBe(false)
    expect(!result.ok && result.errors.map((e) => e.path).sort()).toEqual(['id', 'userId'])
  })
})
