import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi'
import { toWire, TYPE_PATTERN, TYPE_PATTERN_MESSAGE } from '../../streams/event.js'
import { rfc3339Epoch } from '../../streams/rfc3339.js'
import { ApiError } from '../errors.js'
import { storedEvents } from '../examples.js'
import type { HttpEnv } from '../http-env.js'
import { errorResponses, jsonResponse, SECURITY } from '../openapi-responses.js'
import type { EventReader } from '../ports.js'
import { StoredEventSchema } from '../schemas.js'

/**
 * `limit`: plain decimal digits, 1 to 1000 (API.md §3). Not z.coerce.number(): Number() also takes
 * `1e2`, `0x10`, `5.0` and ` 7 `, which no client means as a count.
 */
export const limitParameter = (description: string) =>
  z
    .string()
    .regex(/^\d{1,4}$/, 'must be a whole number from 1 to 1000, in plain decimal digits')
    .transform(Number)
    .pipe(z.number().int().min(1).max(1000))
    .default(100)
    .meta({ description, example: 100, type: 'integer', minimum: 1, maximum: 1000 })

/** `since`: RFC 3339, or integer epoch milliseconds. */
export const sinceParameter = z
  .string()
  .transform((value, ctx) => {
    // Before 1970 is a valid instant to read from: every event is after it.
    const read = /^\d{1,15}$/.test(value) ? Number(value) : rfc3339Epoch(value)
    const ms = read === undefined ? undefined : Math.max(0, read)
    if (ms === undefined || ms >= Date.UTC(2100, 0, 1)) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be an RFC 3339 date-time or integer epoch milliseconds',
      })
      return z.NEVER
    }
    return ms
  })
  .meta({
    description:
      'Only events received at or after this instant: RFC 3339 (e.g. 2026-11-26T00:00:00.000Z) or epoch milliseconds',
  })

export const ReadQuerySchema = z.strictObject({
  type: z
    .string()
    .min(1)
    .max(128)
    .regex(TYPE_PATTERN, TYPE_PATTERN_MESSAGE)
    .optional()
    .meta({ description: 'Only events of this exact type (e.g. page_view)' }),
  since: sinceParameter.optional(),
  limit: limitParameter('How many events, 1 to 1000'),
})

export const readEventsRoute = createRoute({
  method: 'get',
  path: '/v1/events',
  tags: ['events'],
  summary: 'Read back stored events',
  description:
    'The newest stored events first (by receive time), each as accepted plus `receivedAt`, with timestamps as RFC 3339 with milliseconds. ' +
    'Reads what is committed in ClickHouse (embedded or server), each id once. ' +
    'One answer holds at most 4 MiB of properties: fewer than `limit` events when they are large (the newest always). ' +
    'Two reads run at once and 32 more wait their turn; past that, `503 overloaded` with `Retry-After`.',
  security: SECURITY,
  request: { query: ReadQuerySchema },
  responses: {
    200: jsonResponse(
      z.object({ events: z.array(StoredEventSchema) }).meta({ id: 'StoredEvents' }),
      'The newest stored events',
      { 'stored events': { value: storedEvents } },
    ),
    ...errorResponses({
      400: ['invalid_query'],
      401: ['unauthorized'],
      503: ['overloaded', 'storage_unavailable'],
    }),
  },
})

/**
 * One answer's properties, in all: events are parsed, mapped and serialized again on the event loop,
 * and a thousand of 32 KiB each (32 MB) held it for seconds; ten such reads at once, past the
 * watchdog. Past this many bytes an answer has fewer than `limit` events (the newest always).
 */
export const READ_MAX_PROPERTIES_BYTES = 4 * 1024 * 1024
/** Reads at once; more wait, up to READS_WAITING, and past that are answered `503 overloaded`. */
export const READS_AT_ONCE = 2
export const READS_WAITING = 32

export function readEventsRoutes(app: OpenAPIHono<HttpEnv>, reader: EventReader): void {
  const gate = createGate(READS_AT_ONCE, READS_WAITING)
  app.openapi(readEventsRoute, async function readEvents(c) {
    const { type, since: sinceMs, limit } = c.req.valid('query')
    if (!gate.enter())
      throw new ApiError(503, 'overloaded', 'too many reads at once; retry shortly', {
        retryAfterSeconds: 1,
      })
    let events
    try {
      await gate.turn()
      events = await reader.recent({
        ...(type !== undefined && { type }),
        ...(sinceMs !== undefined && { sinceMs }),
        limit,
        maxPropertiesBytes: READ_MAX_PROPERTIES_BYTES,
      })
    } catch (cause) {
      throw new ApiError(
        503,
        'storage_unavailable',
        'storage cannot be read now; try again later',
        { retryAfterSeconds: 5, cause },
      )
    } finally {
      gate.leave()
    }
    return c.json({ events: events.map(toWire) as z.infer<typeof StoredEventSchema>[] }, 200)
  })
}

/** At most `atOnce` callers between turn() and leave(); `waiting` more may wait in enter() order. */
function createGate(atOnce: number, waiting: number) {
  let running = 0
  let entered = 0
  const queue: Array<() => void> = []
  return {
    /** False when the gate is full: running and waiting. */
    enter(): boolean {
      if (entered >= atOnce + waiting) return false
      entered++
      return true
    },
    turn(): Promise<void> {
      if (running < atOnce) {
        running++
        return Promise.resolve()
      }
      return new Promise<void>((resolve) => queue.push(resolve))
    },
    leave(): void {
      entered--
      const next = queue.shift()
      if (next) next()
      else running--
    },
  }
}
