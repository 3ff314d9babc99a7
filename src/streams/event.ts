import { z } from 'zod'
import { MAX_TIMESTAMP_MS, parseRfc3339 } from './rfc3339.js'

export { parseRfc3339 }

/** The event as a client sends it (API.md §1). Strict: an unknown top-level key is rejected by name. */

/**
 * An event type: one optional leading `$` (the prefix PostHog's own events carry, `$pageview`), then
 * a letter or digit, then letters, digits and `_ . : / -`.
 */
export const TYPE_PATTERN = /^\$?[A-Za-z0-9][A-Za-z0-9_.:/-]*$/
export const TYPE_PATTERN_MESSAGE =
  'must match ^\\$?[A-Za-z0-9][A-Za-z0-9_.:/-]*$ (e.g. page_view, checkout.completed, $pageview)'
// JSON may spell a lone UTF-16 surrogate ("\ud800"); UTF-8 cannot. ClickHouse refuses a lone high
// surrogate in an insert and mangles a lone low one, and Redis keys of two such ids would be the same
// bytes: the top-level strings (stored as columns, the id also as a key) must be well-formed.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const wellFormedString = (max: number, min = 0) =>
  z
    .string()
    .min(min)
    .max(max)
    .refine(
      (value) => !LONE_SURROGATE.test(value),
      'must be well-formed Unicode (no lone surrogate such as \\ud800)',
    )

function inRange(ms: number): boolean {
  return Number.isFinite(ms) && ms >= 0 && ms < MAX_TIMESTAMP_MS
}

const timestampSchema = z
  .union([z.string(), z.number()])
  .superRefine((value, ctx) => {
    if (typeof value === 'number') {
      if (!Number.isInteger(value))
        ctx.addIssue({ code: 'custom', message: 'must be an integer of epoch milliseconds' })
      else if (!inRange(value))
        ctx.addIssue({
          code: 'custom',
          message: 'must be from 1970-01-01 up to (not including) 2100-01-01',
        })
    } else if (parseRfc3339(value) === undefined) {
      ctx.addIssue({
        code: 'custom',
        message:
          'must be an RFC 3339 date-time (e.g. 2026-11-26T10:00:00.123Z) from 1970 up to 2100',
      })
    }
  })
  .meta({
    description: 'RFC 3339 string or integer epoch milliseconds; absent means receive time',
    example: '2026-11-26T10:00:00.123Z',
  })

// Only the shape is zod's: nesting, size and forbidden keys are checked in normalize.ts, in one walk
// that also serializes `properties` once for the size check, the fingerprint and storage.
const propertiesSchema = z.record(z.string(), z.unknown()).meta({
  description: 'Any JSON object, ≤ 32 KiB serialized, nesting ≤ 32 levels',
  example: { path: '/pricing', referrer: 'https://example.com' },
})

export const EventSchema = z
  .strictObject({
    id: wellFormedString(128, 1).optional().meta({
      description: 'Idempotency key; absent: the server assigns a UUIDv7',
      example: 'evt-0001',
    }),
    type: z.string().min(1).max(128).regex(TYPE_PATTERN, TYPE_PATTERN_MESSAGE).meta({
      description:
        'What happened, e.g. page_view, checkout.completed, $pageview (one leading $ is allowed)',
      example: 'page_view',
    }),
    timestamp: timestampSchema.optional(),
    source: wellFormedString(128).optional().meta({ example: 'web' }),
    userId: wellFormedString(256).optional().meta({ example: 'u-42' }),
    sessionId: wellFormedString(256).optional().meta({ example: 's-7' }),
    properties: propertiesSchema.optional(),
  })
  .meta({ id: 'Event', description: 'One event (API.md §1). Unknown top-level keys are rejected.' })

export type EventInput = z.infer<typeof EventSchema>
export type Transport = 'ws' | 'rest'

/** An event as accepted: normalized, with its id and times fixed. */
export interface AcceptedEvent {
  readonly id: string
  readonly type: string
  /** epoch milliseconds */
  readonly timestamp: number
  /** epoch milliseconds */
  readonly receivedAt: number
  readonly source?: string
  readonly userId?: string
  readonly sessionId?: string
  readonly properties?: Record<string, unknown>
  readonly transport: Transport
}

/** An event's fields other than its properties: what a sink that has the properties as text reads. */
export type EventFields = Omit<AcceptedEvent, 'properties'>

/**
 * The event of these fields with these properties (none: without the key), its keys in the order
 * an accepted event has them everywhere (properties before transport), and no key for an absent
 * field (the pipeline's fields hold every key, absent ones undefined: see normalize.ts). Built
 * field by field: this runs once per event.
 */
export function eventWith(
  fields: EventFields,
  properties: Record<string, unknown> | undefined,
): AcceptedEvent {
  const event = {
    id: fields.id,
    type: fields.type,
    timestamp: fields.timestamp,
    receivedAt: fields.receivedAt,
  } as { -readonly [K in keyof AcceptedEvent]: AcceptedEvent[K] }
  if (fields.source !== undefined) event.source = fields.source
  if (fields.userId !== undefined) event.userId = fields.userId
  if (fields.sessionId !== undefined) event.sessionId = fields.sessionId
  if (properties !== undefined) event.properties = properties
  event.transport = fields.transport
  return event
}

/** RFC 3339 with milliseconds, the form every reader of Sluice gets timestamps in. */
export function toIso(ms: number): string {
  return new Date(ms).toISOString()
}

/** The JSON shape of an accepted event for readers (subscribers, GET /v1/events, routes). */
export function toWire(event: AcceptedEvent): Record<string, unknown> {
  return {
    id: event.id,
    type: event.type,
    timestamp: toIso(event.timestamp),
    receivedAt: toIso(event.receivedAt),
    ...(event.source !== undefined && { source: event.source }),
    ...(event.userId !== undefined && { userId: event.userId }),
    ...(event.sessionId !== undefined && { sessionId: event.sessionId }),
    ...(event.properties !== undefined && { properties: event.properties }),
    transport: event.transport,
  }
}
