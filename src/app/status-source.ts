import { from, lastValueFrom } from 'rxjs'
import type { WsGatewayStats } from '../adapters/ws/index.js'
import type { StatusSource, StatusView } from '../http/routes/status.js'
import type { Admission } from '../streams/admission.js'
import type { DeadLetterStore } from '../streams/routing/ports.js'
import type { RouteStatus } from '../streams/routing/router.js'
import type { StatusTracker } from '../telemetry/status.js'

export interface StatusSourceDeps {
  readonly tracker: StatusTracker
  readonly admission: Admission
  /** each route's breaker and queue, as the router has them now ([] without routes) */
  readonly routes: () => readonly RouteStatus[]
  readonly ws: () => WsGatewayStats
  readonly wsPort: () => number | undefined
  readonly deadLetters: DeadLetterStore
  readonly startedAt: number
  readonly now?: () => number
}

/** The newest dead letters read to count them: past it, the counts are lower bounds. */
export const DEAD_LETTERS_COUNTED = 1000
/** A count of dead letters is reused this long: a console polling every second must not read them every second. */
const DEAD_LETTERS_CACHE_MS = 5000

type DeadLetterCounts = StatusView['deadLetters']

/**
 * GET /v1/status as the composition root assembles it: the tracker's counters and windows, the
 * gauges read from their owners (admission, router, WebSocket gateway) as the metrics' collectors
 * read them, and dead letters counted in their store.
 */
export function createStatusSource(deps: StatusSourceDeps): StatusSource {
  const now = deps.now ?? Date.now
  let counted: { at: number; counts: Promise<DeadLetterCounts> } | undefined

  /** One read of the newest dead letters, grouped by route; shared by requests within the cache time. */
  function deadLetterCounts(): Promise<DeadLetterCounts> {
    const time = now()
    if (counted && time - counted.at < DEAD_LETTERS_CACHE_MS) return counted.counts
    const counts = lastValueFrom(
      from(deps.deadLetters.list({ limit: DEAD_LETTERS_COUNTED + 1 })),
    ).then(
      (letters) => {
        const byRoute: Record<string, number> = {}
        for (const { route } of letters.slice(0, DEAD_LETTERS_COUNTED))
          byRoute[route] = (byRoute[route] ?? 0) + 1
        return { byRoute, truncated: letters.length > DEAD_LETTERS_COUNTED }
      },
      (error: unknown) => {
        // not cached: the next request asks again
        counted = undefined
        return {
          byRoute: {},
          truncated: false,
          error:
            error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : String(error),
        }
      },
    )
    counted = { at: time, counts }
    return counts
  }

  return {
    wsPort: deps.wsPort,
    async snapshot() {
      const flow = deps.tracker.snapshot()
      const { admission } = deps
      const stats = deps.ws()
      const routes = deps.routes().map(({ route, breaker, pending }) => {
        const counts = flow.routes[route]
        return {
          name: route,
          breaker,
          queued: pending,
          delivered: counts?.delivered ?? 0,
          batches: counts?.batches ?? 0,
          failures: counts?.failures ?? 0,
          deadLettered: counts?.deadLettered ?? 0,
          replayed: counts?.replayed ?? 0,
        }
      })
      return {
        time: flow.time,
        uptimeSeconds: Math.floor((flow.time - deps.startedAt) / 1000),
        events: flow.events,
        rates: flow.rates,
        latency: flow.latency,
        inflight: {
          events: admission.inflight,
          maxEvents: admission.maxInflight,
          bytes: admission.inflightBytes,
          maxBytes: Number.isFinite(admission.maxInflightBytes) ? admission.maxInflightBytes : null,
          paused: admission.paused,
        },
        ws: {
          port: deps.wsPort() ?? null,
          connections: stats.connections,
          subscribers: stats.subscribers,
        },
        routes,
        deadLetters: await deadLetterCounts(),
      }
    },
  }
}
