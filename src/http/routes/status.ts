import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi'
import type { HttpEnv } from '../http-env.js'
import { errorResponses, jsonResponse, SECURITY } from '../openapi-responses.js'
import type { ReadinessCheck } from '../ports.js'
import { ReadySchema } from '../schemas.js'
import { timed } from './operations.js'

const count = z.number().int().min(0)
const byResult = (what: string) =>
  z
    .object({
      accepted: z.number(),
      duplicate: z.number(),
      rejected: z.number(),
      failed: z.number(),
    })
    .meta({ description: what })
const byTransport = (what: string) =>
  z.record(z.string(), z.number()).meta({ description: `${what}, by transport (ws, rest, …)` })
const percentiles = (what: string) =>
  z
    .object({
      p50: z.number().nullable(),
      p99: z.number().nullable(),
      samples: count.meta({ description: 'the samples in the window (null percentiles: none)' }),
    })
    .meta({ description: what })

export const StatusSchema = z
  .object({
    time: z.number().int().meta({
      description: "The server's clock (epoch ms): a rate is Δcount / Δtime of two answers",
    }),
    uptimeSeconds: z.number().int(),
    events: z.object({
      byResult: byResult('Events answered since the start, by result (API.md §2)'),
      byTransport: byTransport('Events answered since the start'),
    }),
    rates: z.object({
      windowSeconds: count,
      byResult: byResult('Events per second over the last windowSeconds complete seconds'),
      byTransport: byTransport('Events per second over the same window'),
    }),
    latency: z.object({
      windowSeconds: count,
      ingestLagMs: percentiles('From receiving an event to its commit (ms), per event'),
      insertMs: percentiles(
        "From a batch's first insert attempt to its commit (ms), retries included, per batch",
      ),
    }),
    inflight: z
      .object({
        events: count,
        maxEvents: count.meta({ description: 'MAX_INFLIGHT_EVENTS' }),
        bytes: count,
        maxBytes: z
          .number()
          .nullable()
          .meta({ description: 'MAX_INFLIGHT_BYTES (null: no bound)' }),
        paused: z
          .boolean()
          .meta({ description: 'over the high-water mark: readers are paused (§4 backpressure)' }),
      })
      .meta({ description: 'Events taken and not yet answered, against the admission bounds' }),
    ws: z.object({
      port: z
        .number()
        .int()
        .nullable()
        .meta({ description: 'the WebSocket port (WS_PORT as bound): connect there to subscribe' }),
      connections: count,
      subscribers: count,
    }),
    routes: z.array(
      z.object({
        name: z.string(),
        breaker: z.enum(['closed', 'open', 'half-open']),
        queued: count.meta({ description: 'events the route holds, queued or in flight' }),
        delivered: count.meta({ description: 'events delivered since the start' }),
        batches: count.meta({ description: 'batches delivered since the start' }),
        failures: count.meta({ description: 'failed attempts since the start' }),
        deadLettered: count.meta({ description: 'events written to dead letters since the start' }),
        replayed: count.meta({ description: 'dead letters sent through the route again' }),
      }),
    ),
    deadLetters: z
      .object({
        byRoute: z.record(z.string(), count),
        truncated: z.boolean().meta({
          description:
            'more dead letters are stored than were counted: the counts are lower bounds',
        }),
        error: z.string().optional().meta({ description: 'they could not be counted now' }),
      })
      .meta({
        description: 'Dead letters stored now, by route (counted at most every few seconds)',
      }),
    readiness: ReadySchema.omit({ requestId: true }),
    requestId: z.string(),
  })
  .meta({ id: 'Status' })

export type StatusView = Omit<z.infer<typeof StatusSchema>, 'readiness' | 'requestId'>

/** What the composition root gives the status endpoint and the console. */
export interface StatusSource {
  snapshot(): Promise<StatusView>
  /** the WebSocket port once listening */
  wsPort(): number | undefined
}

const example = {
  time: 1795000000000,
  uptimeSeconds: 3600,
  events: {
    byResult: { accepted: 120500, duplicate: 310, rejected: 12, failed: 0 },
    byTransport: { rest: 80822, ws: 40000 },
  },
  rates: {
    windowSeconds: 10,
    byResult: { accepted: 512.4, duplicate: 1.2, rejected: 0, failed: 0 },
    byTransport: { rest: 313.6, ws: 200 },
  },
  latency: {
    windowSeconds: 60,
    ingestLagMs: { p50: 14, p99: 41, samples: 4096 },
    insertMs: { p50: 6, p99: 19, samples: 1024 },
  },
  inflight: { events: 37, maxEvents: 100000, bytes: 18944, maxBytes: 268435456, paused: false },
  ws: { port: 8080, connections: 3, subscribers: 1 },
  routes: [
    {
      name: 'analytics',
      breaker: 'open',
      queued: 240,
      delivered: 9800,
      batches: 98,
      failures: 12,
      deadLettered: 100,
      replayed: 0,
    },
  ],
  deadLetters: { byRoute: { analytics: 100 }, truncated: false },
  readiness: {
    status: 'ready',
    checks: {
      redis: { status: 'ok', backend: 'redis', latencyMs: 1 },
      clickhouse: { status: 'ok', backend: 'clickhouse server', latencyMs: 2 },
    },
  },
  requestId: '0193a3c2-7f00-7000-8000-000000000000',
}

export const statusRoute = createRoute({
  method: 'get',
  path: '/v1/status',
  tags: ['status'],
  summary: 'Live status',
  description:
    'What the console at /console shows: events answered by result and by transport (cumulative, with the server clock, so two answers give rates; and rates over a short window), ' +
    'ingest lag and insert latency p50/p99 over a recent window, events in flight against the admission bound, WebSocket connections and the WS port, ' +
    "each route's breaker, queue, deliveries and failures, dead letters stored by route, and readiness. Computed in Sluice from the same telemetry as /metrics.",
  security: SECURITY,
  responses: {
    200: jsonResponse(StatusSchema, 'The status now', { status: { value: example } }),
    ...errorResponses({ 401: ['unauthorized'] }),
  },
})

export interface StatusRoutesOptions {
  readonly source: StatusSource
  readonly checks: readonly ReadinessCheck[]
  readonly readyTimeoutMs: number
  readonly stopping: () => boolean
}

/** GET /v1/status: the source's snapshot, with readiness asked as GET /ready asks it. */
export function statusRoutes(app: OpenAPIHono<HttpEnv>, options: StatusRoutesOptions): void {
  app.openapi(statusRoute, async function status(c) {
    const [view, results] = await Promise.all([
      options.source.snapshot(),
      Promise.all(options.checks.map((check) => timed(check, options.readyTimeoutMs))),
    ])
    const failed = results.some((result) => result.outcome.status === 'fail')
    const readiness = {
      status: options.stopping() ? 'stopping' : failed ? 'unavailable' : 'ready',
      checks: Object.fromEntries(results.map((result) => [result.name, result.outcome])),
    } as const
    return c.json({ ...view, readiness, requestId: c.get('requestId') }, 200)
  })
}
