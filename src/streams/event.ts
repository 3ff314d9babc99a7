import { z } from 'zod'

/** The event as a client sends it (API.md §1). Strict: an unknown top-level key is rejected by name. */

/**
 * An event type: one optional leading `$` (the prefix PostHog's own events carry, `$pageview`), then
 * a letter or digit, then letters, digits and `_ . : / -`.
 */
export const TYPE_PATTERN = /^\$?[A-Za-z0-9][A-Za-z0-9_.:/-]*$/
export const TYPE_PATTERN_MESSAGE =
  'must match ^\\$?[A-Za-z0-9][A-Za-z0-9_.:/-]*$ (e.g. page_view, checkout.completed, $pageview)'
// 2100-01-01T00:00:00.000Z: the first instant that is out of range.
const MAX_TIMESTAMP_MS = Date.UTC(2100, 0, 1)
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/
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

/** Epoch milliseconds of an RFC 3339 string, or undefined when it is not a real date in range. */
export function parseRfc3339(text: string): number | undefined {
  const m = RFC3339.exec(text)
  if (!m) return undefined
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  // Date.parse rolls 2026-02-30 over into March; a calendar check refuses it.
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate()
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  )
    return undefined
  const fraction = m[7] ? m[7].slice(0, 4).padEnd(4, '0') : '.000' // keep milliseconds, drop finer digits
  const ms = Date.parse(
    `${m.slice(1, 4).join('-')}T${m.slice(4, 7).join(':')}${fraction}${m[8]!.toUpperCase()}`,
  )
  return inRange(ms) ? ms : undefined
}

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
