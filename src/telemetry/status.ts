import type { RouterTelemetry } from '../streams/routing/telemetry.js'
import type { PipelineTelemetry } from '../streams/telemetry.js'
import {
  createRateWindow,
  createSampleWindow,
  type Percentiles,
  type SampleWindow,
} from './status-windows.js'

export const RESULTS = ['accepted', 'duplicate', 'rejected', 'failed'] as const
export type Result = (typeof RESULTS)[number]

/** What a route's telemetry counted since the start. */
export interface RouteCounts {
  /** events delivered (2xx) */
  delivered: number
  /** batches delivered */
  batches: number
  /** attempts that failed: each retried one, and each last one before dead letters */
  failures: number
  /** events written to dead letters */
  deadLettered: number
  /** dead letters handed back to the route (replays, and the resend at start) */
  replayed: number
}

/** The counters and recent windows GET /v1/status reports, as of `time`. */
export interface FlowStatus {
  /** the server's clock (epoch ms): rates between two snapshots are Δcount / Δtime */
  readonly time: number
  /** cumulative since the start: every event answered, by its result, and by the transport it came by */
  readonly events: {
    readonly byResult: Record<Result, number>
    readonly byTransport: Record<string, number>
  }
  /** events per second over the last `windowSeconds` complete seconds */
  readonly rates: {
    readonly windowSeconds: number
    readonly byResult: Record<Result, number>
    readonly byTransport: Record<string, number>
  }
  /** over the last `windowSeconds` (at most the newest samples each ring holds) */
  readonly latency: {
    readonly windowSeconds: number
    /** from receiving an event to its commit, per event (a batch adds at most LAG_SAMPLES_PER_BATCH) */
    readonly ingestLagMs: Percentiles
    /** from a batch's first insert attempt to its commit, retries included, per batch */
    readonly insertMs: Percentiles
  }
  readonly routes: Readonly<Record<string, Readonly<RouteCounts>>>
}

export interface StatusTracker {
  /** combined with the metrics' hooks: the same events feed both */
  readonly pipeline: PipelineTelemetry
  readonly router: RouterTelemetry
  snapshot(): FlowStatus
}

export interface StatusTrackerOptions {
  readonly now?: () => number
  /** rates average this many complete seconds (default 10) */
  readonly rateWindowSeconds?: number
  /** percentiles cover this many seconds (default 60) */
  readonly latencyWindowSeconds?: number
  /** ingest lag samples kept (default 4096) */
  readonly lagCapacity?: number
  /** insert latency samples kept, one per batch (default 1024) */
  readonly insertCapacity?: number
}

/** A large batch adds evenly spaced samples, not all: one batch must not fill the whole ring. */
export const LAG_SAMPLES_PER_BATCH = 256

/**
 * The console's numbers: a telemetry sink like the metrics (same hooks, combined with them by the
 * composition root), keeping cumulative counters and small recent windows instead of series.
 * Gauges (events in flight, routes' breakers and queues, connections) are read from their owners
 * when a snapshot is asked for, as the metrics' collectors do.
 */
export function createStatusTracker(options: StatusTrackerOptions = {}): StatusTracker {
  const now = options.now ?? Date.now
  const rateWindowSeconds = options.rateWindowSeconds ?? 10
  const latencyWindowSeconds = options.latencyWindowSeconds ?? 60
  const started = now()
  const byResult: Record<Result, number> = { accepted: 0, duplicate: 0, rejected: 0, failed: 0 }
  const byTransport = new Map<string, number>()
  const resultRates = createRateWindow(rateWindowSeconds, started)
  const transportRates = createRateWindow(rateWindowSeconds, started)
  const lag = createSampleWindow(options.lagCapacity ?? 4096)
  const insert = createSampleWindow(options.insertCapacity ?? 1024)
  const routes = new Map<string, RouteCounts>()

  function count(time: number, result: Result, transport: string, n: number): void {
    if (n <= 0) return
    byResult[result] += n
    byTransport.set(transport, (byTransport.get(transport) ?? 0) + n)
    resultRates.add(time, result, n)
    transportRates.add(time, transport, n)
  }

  function route(name: string): RouteCounts {
    let counts = routes.get(name)
    if (!counts) {
      counts = { delivered: 0, batches: 0, failures: 0, deadLettered: 0, replayed: 0 }
      routes.set(name, counts)
    }
    return counts
  }

  return {
    pipeline: {
      submissionSettled(transport, counts) {
        const time = now()
        count(time, 'accepted', transport, counts.accepted)
        count(time, 'duplicate', transport, counts.duplicates)
        count(time, 'rejected', transport, counts.rejected)
        count(time, 'failed', transport, counts.failed)
      },
      batchCommitted(_rows, durationMs, committed) {
        const time = now()
        insert.add(time, durationMs)
        addLagSamples(lag, time, committed)
      },
    },
    router: {
      batchDelivered(name, events) {
        const counts = route(name)
        counts.delivered += events
        counts.batches++
      },
      deliveryRetried: (name) => void route(name).failures++,
      batchDeadLettered(name, events, reason) {
        const counts = route(name)
        counts.deadLettered += events
        // overflow, shutdown and transform letters never had a failed attempt
        if (reason === 'rejected' || reason === 'exhausted') counts.failures++
      },
      replayed: (name, events) => void (route(name).replayed += events),
    },
    snapshot() {
      const time = now()
      const since = time - latencyWindowSeconds * 1000
      const resultPerSecond = resultRates.perSecond(time)
      const transportPerSecond = transportRates.perSecond(time)
      return {
        time,
        events: { byResult: { ...byResult }, byTransport: Object.fromEntries(byTransport) },
        rates: {
          windowSeconds: rateWindowSeconds,
          byResult: Object.fromEntries(
            RESULTS.map((result) => [result, resultPerSecond.get(result) ?? 0]),
          ) as Record<Result, number>,
          // every transport seen so far, 0 when it was quiet in the window
          byTransport: Object.fromEntries(
            [...byTransport.keys()].map((key) => [key, transportPerSecond.get(key) ?? 0]),
          ),
        },
        latency: {
          windowSeconds: latencyWindowSeconds,
          ingestLagMs: lag.percentiles(since),
          insertMs: insert.percentiles(since),
        },
        routes: Object.fromEntries([...routes].map(([name, counts]) => [name, { ...counts }])),
      }
    },
  }
}

function addLagSamples(
  lag: SampleWindow,
  time: number,
  committed: readonly { receivedAt: number }[],
): void {
  const step = Math.max(1, committed.length / LAG_SAMPLES_PER_BATCH)
  for (let i = 0; i < committed.length; i += step)
    lag.add(time, time - committed[Math.floor(i)]!.receivedAt)
}
