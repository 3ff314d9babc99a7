import { describe, expect, it } from 'vitest'
import { normalize } from '../../src/streams/normalize.js'
import { posthogEvent } from '../../src/http/sdk/posthog-message.js'
import type { BatchFrame } from '../../src/http/sdk/message-mapping.js'

const receivedAt = Date.UTC(2026, 10, 26, 10, 0, 5)
const frame: BatchFrame = { receivedAt }

// The mapping owns the message it is given (a parsed body's), and extends its properties in place:
// each call gets its own copy, as each request parses its own.
const mapped = (message: unknown, with_: Partial<BatchFrame> = {}) => {
  const result = posthogEvent(structuredClone(message), { ...frame, ...with_ })
  if (!result.ok) throw new Error(`not mapped: ${JSON.stringify(result.issues)}`)
  return result.event
}
const issuesOf = (message: unknown) => {
  const result = posthogEvent(structuredClone(message), frame)
  if (result.ok) throw new Error('mapped')
  return result.issues
}
const valid = (event: Record<string, unknown>) =>
  normalize(event, { transport: 'rest', receivedAt }).ok

/** The message back from the event: `$posthog` with uuid and properties put back. */
function messageOf(event: Record<string, unknown>, hadProperties = true) {
  const { $posthog, ...properties } = event.properties as Record<string, unknown>
  const message = { ...($posthog as Record<string, unknown>) }
  if (event.id !== undefined) message.uuid = event.id
  if (hadProperties) message.properties = properties
  return message
}

describe('posthogEvent', () => {
  it('maps a posthog-node capture: uuid to id, event to type, distinct_id to userId, properties plus $posthog', () => {
    const message = {
      event: 'Order Completed',
      distinct_id: 'd-1',
      uuid: '0193a3c2-7f00-7000-8000-000000000001',
      type: 'capture',
      library: 'posthog-node',
      properties: { $lib: 'posthog-node', total: 5 },
    }
    const event = mapped(message)
    expect(event).toEqual({
      id: '0193a3c2-7f00-7000-8000-000000000001',
      type: 'Order_Completed',
      userId: 'd-1',
      properties: {
        $lib: 'posthog-node',
        total: 5,
        $posthog: {
          event: 'Order Completed',
          distinct_id: 'd-1',
          type: 'capture',
          library: 'posthog-node',
        },
      },
    })
    expect(valid(event)).toBe(true)
  })

  it('keeps the one leading $ of PostHog’s own events and replaces the rest as for Segment', () => {
    const type = (name: string) => mapped({ event: name, distinct_id: 'd' }).type
    expect(type('$pageview')).toBe('$pageview')
    expect(type('$autocapture')).toBe('$autocapture')
    expect(type('$$double')).toBe('$double')
    expect(type('$ spaced out')).toBe('$spaced_out')
    expect(type('plain event')).toBe('plain_event')
  })

  it('takes distinct_id from properties when the message has none (posthog-js), and numbers as strings', () => {
    expect(mapped({ event: 'e', properties: { distinct_id: 'p-1', token: 't' } }).userId).toBe(
      'p-1',
    )
    expect(mapped({ event: 'e', distinct_id: 42 }).userId).toBe('42')
    expect(mapped({ event: 'e' })).not.toHaveProperty('userId')
  })

  it('corrects the timestamp with sent_at, the message’s own or the batch’s', () => {
    const message = { event: 'e', timestamp: '2026-11-26T08:00:00.000Z' }
    expect(mapped({ ...message, sent_at: '2026-11-26T08:00:02.000Z' }).timestamp).toBe(
      receivedAt - 2000,
    )
    expect(mapped(message, { sentAt: '2026-11-26T08:00:04.000Z' }).timestamp).toBe(
      receivedAt - 4000,
    )
    expect(mapped(message).timestamp).toBe(Date.UTC(2026, 10, 26, 8))
    expect(mapped({ event: 'e' })).not.toHaveProperty('timestamp')
  })

  it('keeps api_key out of the stored event', () => {
    expect(JSON.stringify(mapped({ event: 'e', api_key: 'phc_secret' }))).not.toContain(
      'phc_secret',
    )
  })

  it('gives back the message as sent from $posthog and the mapped fields', () => {
    const messages = [
      {
        event: '$identify',
        distinct_id: 'd-2',
        uuid: 'u-2',
        timestamp: '2026-11-26T10:00:00.123Z',
        properties: { $set: { email: 'a@b.c' }, $anon_distinct_id: 'anon' },
        type: 'identify',
        library: 'posthog-node',
        library_version: '5.0.0',
      },
      {
        event: '$pageview',
        uuid: 'u-3',
        properties: { distinct_id: 'd-3', $current_url: 'https://x/' },
        $set: { a: 1 },
      },
    ]
    for (const message of messages) {
      const event = mapped(JSON.parse(JSON.stringify(message)))
      expect(valid(event)).toBe(true)
      expect(messageOf(event)).toEqual(message)
    }
  })

  describe('a message that cannot be mapped', () => {
    it('is refused when it is not an object', () => {
      expect(issuesOf(null)).toEqual([
        { path: '', message: 'a message must be a JSON object, not null' },
      ])
    })

    it('is refused without an event, or with one that maps to an empty type', () => {
      expect(issuesOf({ distinct_id: 'd', uuid: 'u-x' })).toEqual([
        { path: 'event', message: 'a message needs an event name' },
      ])
      expect(posthogEvent({ uuid: 'u-x' }, frame)).toMatchObject({ ok: false, id: 'u-x' })
      expect(issuesOf({ event: '$' })[0]!.path).toBe('event')
      expect(issuesOf({ event: '%%%' })[0]!.path).toBe('event')
    })

    it('is refused, naming every field, when fields have the wrong JSON types', () => {
      expect(
        issuesOf({ event: ['e'], uuid: 5, distinct_id: {}, properties: [], timestamp: true }).map(
          (issue) => issue.path,
        ),
      ).toEqual(['uuid', 'event', 'properties', 'distinct_id', 'timestamp'])
    })

    it('is refused when its properties already hold $posthog', () => {
      expect(issuesOf({ event: 'e', properties: { $posthog: {} } })).toEqual([
        { path: 'properties.$posthog', message: 'is reserved for the message itself' },
      ])
    })
  })
})
