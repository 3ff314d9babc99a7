import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { CountedHistogram } from './counted-histogram.js'
import type { WsTelemetry } from '../adapters/ws/index.js'
import type { HttpTelemetry } from '../http/ports.js'
import type { Admission } from '../streams/admission.js'
import type { Transport } from '../streams/event.js'
import type { EventStatus } from '../streams/outcome.js'
import type { PipelineTelemetry } from '../streams/telemetry.js'

/**
 * Every metric Sluice exports, on one registry built by the composition root. The pipeline and the
 * adapters report typed telemetry events; this module is the only place that turns them into series.
 */
export interface Metrics {
  readonly registry: Registry
  readonly pipeline: PipelineTelemetry
  readonly httpRequests: Counter<'route' | 'status'>
  /** errors that escaped to the process's last net, by kind (uncaughtException, unhandledRejection) */
  readonly uncaughtErrors: Counter<'kind'>
  readonly routes: {
    readonly deliveries: Counter<'route' | 'outcome'>
    readonly events: Counter<'route' | 'outcome'>
    readonly duration: Histogram<'route'>
    readonly deadLetters: Counter<'route' | 'reason'>
    readonly deadLetterWriteFailures: Counter<'route' | 'kept'>
    readonly outboxErrors: Counter<'operation'>
  }
  /** reports each route's breaker state and pending events when scraped */
  watchRoutes(
    status: () => ReadonlyArray<{
      route: string
      breaker: 'closed' | 'open' | 'half-open'
      pending: number
    }>,
  ): void
  readonly ws: WsTelemetry
  readonly http: HttpTelemetry
  /** counts pauses and reports events in flight from the pipeline's admission */
  watchAdmission(admission: Admission): void
}

const TRANSPORTS: readonly Transport[] = ['ws', 'rest']
const STATUSES: readonly EventStatus[] = ['accepted', 'duplicate', 'rejected', 'failed']

/** Seconds, from a fast insert on a quiet machine to one retried through an outage. */
// Finer between 50 and 250 ms, around the 100 ms ack target: a p99 there should be read, not guessed.
const LATENCY_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.5, 1, 2.5, 5, 10, 30,
]

export function createMetrics(registry = new Registry()): Metrics {
  collectDefaultMetrics({ register: registry })
  const registers = [registry]
  // Added up per submission in plain numbers and handed to the counter when it is read: a labelled
  // inc hashes its labels on every call, once per frame (with one event a frame, once per event).
  // The counter is reached only through the registry, which calls its `collect` when read.
  const answered: Record<Transport, Record<EventStatus, number>> = {
    ws: { accepted: 0, duplicate: 0, rejected: 0, failed: 0 },
    rest: { accepted: 0, duplicate: 0, rejected: 0, failed: 0 },
  }
  new Counter({
    name: 'sluice_events_total',
    help: 'Events answered, by transport and result status',
    labelNames: ['transport', 'status'] as const,
    registers,
    collect() {
      for (const transport of TRANSPORTS)
        for (const status of STATUSES) {
          const count = answered[transport][status]
          if (count === 0) continue
          answered[transport][status] = 0
          this.inc({ transport, status }, count)
        }
    },
  })
  const batches = new Counter({
    name: 'sluice_batches_committed_total',
    help: 'Insert batches committed to ClickHouse',
    registers,
  })
  const rows = new Counter({
    name: 'sluice_rows_committed_total',
    help: 'Rows committed to ClickHouse',
    registers,
  })
  const failedBatches = new Counter({
    name: 'sluice_batches_failed_total',
    help: 'Insert batches given up after the retry budget (their events settled failed)',
    registers,
  })
  const insertDuration = new Histogram({
    name: 'sluice_insert_duration_seconds',
    help: 'Time from the first insert attempt of a batch to its commit, retries included',
    buckets: LATENCY_BUCKETS,
    registers,
  })
  const retries = new Counter({
    name: 'sluice_insert_retries_total',
    help: 'Insert attempts retried after a retriable error',
    registers,
  })
  const duplicates = new Counter({
    name: 'sluice_duplicates_total',
    help: 'Events found already stored by the dedupe store',
    registers,
  })
  const dedupeErrors = new Counter({
    name: 'sluice_dedupe_store_errors_total',
    help: 'Dedupe store calls that failed, and what was done (open, reject, ignored)',
    labelNames: ['operation', 'action'] as const,
    registers,
  })
  const restarts = new Counter({
    name: 'sluice_pipeline_restarts_total',
    help: 'Times the pipeline supervisor resubscribed after an unexpected error',
    registers,
  })
  const answersFailed = new Counter({
    name: 'sluice_answers_failed_total',
    help: 'Submissions whose answer could not be sent (the adapter threw while answering); the other clients are unaffected',
    labelNames: ['transport'] as const,
    registers,
  })
  const lag = new CountedHistogram(
    'sluice_ingest_lag_seconds',
    'Time from receiving an event to committing it',
    LATENCY_BUCKETS,
    registers,
  )
  const pauses = new Counter({
    name: 'sluice_admission_pauses_total',
    help: 'Times admission crossed the high-water mark and told readers to pause',
    registers,
  })
  let watched: Admission | undefined
  let watchedRoutes: Parameters<Metrics['watchRoutes']>[0] = () => []
  const BREAKER = { closed: 0, 'half-open': 1, open: 2 } as const
  new Gauge({
    name: 'sluice_route_breaker_state',
    help: 'Circuit breaker of each route: 0 closed, 1 half-open, 2 open',
    labelNames: ['route'] as const,
    registers,
    collect() {
      for (const { route, breaker } of watchedRoutes()) this.set({ route }, BREAKER[breaker])
    },
  })
  new Gauge({
    name: 'sluice_route_pending_events',
    help: 'Events a route holds, queued or in flight',
    labelNames: ['route'] as const,
    registers,
    collect() {
      for (const { route, pending } of watchedRoutes()) this.set({ route }, pending)
    },
  })
  new Gauge({
    name: 'sluice_events_in_flight',
    help: 'Events taken and not yet answered',
    registers,
    collect() {
      this.set(watched?.inflight ?? 0)
    },
  })
  new Gauge({
    name: 'sluice_bytes_in_flight',
    help: 'Bytes admission counts for the events in flight (what Sluice retains for them; bound: MAX_INFLIGHT_BYTES)',
    registers,
    collect() {
      this.set(watched?.inflightBytes ?? 0)
    },
  })
  const paused = new Gauge({
    name: 'sluice_admission_paused',
    help: '1 while readers are paused (over the high-water mark)',
    registers,
  })

  const pipeline: PipelineTelemetry = {
    submissionSettled(transport, counts) {
      const total = answered[transport]
      total.accepted += counts.accepted
      total.duplicate += counts.duplicates
      total.rejected += counts.rejected
      total.failed += counts.failed
    },
    batchCommitted(count, durationMs, committed) {
      batches.inc()
      rows.inc(count)
      insertDuration.observe(durationMs / 1000)
      const now = Date.now()
      // The events of one frame or request share their receive time and sit together in a batch:
      // one observation per run of them.
      for (let i = 0; i < committed.length;) {
        const receivedAt = committed[i]!.receivedAt
        let end = i + 1
        while (end < committed.length && committed[end]!.receivedAt === receivedAt) end++
        lag.observe((now - receivedAt) / 1000, end - i)
        i = end
      }
    },
    insertRetried: () => retries.inc(),
    batchFailed: () => failedBatches.inc(),
    duplicatesFound: (count) => duplicates.inc(count),
    dedupeStoreFailed: (operation, _error, action) => dedupeErrors.inc({ operation, action }),
    pipelineRestarted: () => restarts.inc(),
    answerFailed: (transport) => answersFailed.inc({ transport }),
  }

  const wsConnections = new Gauge({
    name: 'sluice_ws_connections',
    help: 'Open WebSocket connections',
    registers,
  })
  const wsRefusedUpgrades = new Counter({
    name: 'sluice_ws_upgrades_refused_total',
    help: 'WebSocket upgrades refused, by reason',
    labelNames: ['reason'] as const,
    registers,
  })
  const wsRefusedFrames = new Counter({
    name: 'sluice_ws_frames_refused_total',
    help: 'WebSocket frames answered with an error frame, by code',
    labelNames: ['code'] as const,
    registers,
  })
  const wsPauses = new Counter({
    name: 'sluice_ws_reading_paused_total',
    help: 'Times a WebSocket connection stopped being read (backpressure)',
    registers,
  })
  const wsDropped = new Counter({
    name: 'sluice_ws_subscribers_dropped_total',
    help: 'Subscribers dropped from their subscription for reading too slowly',
    registers,
  })
  const wsTimedOut = new Counter({
    name: 'sluice_ws_peers_timed_out_total',
    help: 'Peers terminated after two silent ping intervals',
    registers,
  })
  const ws: WsTelemetry = {
    connectionOpened: () => wsConnections.inc(),
    connectionClosed: () => wsConnections.dec(),
    upgradeRefused: (_status, reason) => wsRefusedUpgrades.inc({ reason }),
    frameRefused: (code) => wsRefusedFrames.inc({ code }),
    frameTooLarge: () => wsRefusedFrames.inc({ code: 'frame_too_large' }),
    frameFailed: () => wsRefusedFrames.inc({ code: 'internal' }),
    readingPaused: () => wsPauses.inc(),
    subscriberDropped: () => wsDropped.inc(),
    peerTimedOut: () => wsTimedOut.inc(),
  }

  const httpRequests = new Counter({
    name: 'sluice_http_requests_total',
    help: 'HTTP requests answered, by route and status',
    labelNames: ['route', 'status'] as const,
    registers,
  })

  return {
    registry,
    pipeline,
    ws,
    uncaughtErrors: new Counter({
      name: 'sluice_uncaught_errors_total',
      help: 'Errors no handler caught, logged and survived, by kind',
      labelNames: ['kind'] as const,
      registers,
    }),
    httpRequests,
    http: { requestAnswered: (route, status) => httpRequests.inc({ route, status }) },
    routes: {
      deliveries: new Counter({
        name: 'sluice_route_deliveries_total',
        help: 'Route batches by outcome: delivered, retried (an attempt failed), dead_lettered',
        labelNames: ['route', 'outcome'] as const,
        registers,
      }),
      events: new Counter({
        name: 'sluice_route_events_total',
        help: 'Events delivered to routes',
        labelNames: ['route', 'outcome'] as const,
        registers,
      }),
      duration: new Histogram({
        name: 'sluice_route_delivery_duration_seconds',
        help: 'From the first attempt of a route batch to its delivery',
        labelNames: ['route'] as const,
        buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
        registers,
      }),
      deadLetters: new Counter({
        name: 'sluice_route_dead_letters_total',
        help: 'Events written to dead letters, by route and reason',
        labelNames: ['route', 'reason'] as const,
        registers,
      }),
      deadLetterWriteFailures: new Counter({
        name: 'sluice_route_dead_letter_write_failures_total',
        help: 'Events whose dead letters could not be written (kept: still in the outbox)',
        labelNames: ['route', 'kept'] as const,
        registers,
      }),
      outboxErrors: new Counter({
        name: 'sluice_route_outbox_errors_total',
        help: 'Route outbox (Redis Streams) calls that failed',
        labelNames: ['operation'] as const,
        registers,
      }),
    },
    watchRoutes(status) {
      watchedRoutes = status
    },
    watchAdmission(admission) {
      watched = admission
      let first = true
      admission.paused$.subscribe((isPaused) => {
        paused.set(isPaused ? 1 : 0)
        if (isPaused && !first) pauses.inc()
        first = false
      })
    },
  }
}

/** Several telemetry sinks of one catalogue (pipeline, router…) as one: each hook calls every sink that has it. */
export function combineTelemetry<T extends object = PipelineTelemetry>(...sinks: T[]): T {
  const keys = new Set(sinks.flatMap((sink) => Object.keys(sink))) as Set<keyof T>
  const combined: Record<string, (...args: unknown[]) => void> = {}
  for (const key of keys) {
    const hooks = sinks.flatMap((sink) => {
      const hook = (sink[key] as ((...args: unknown[]) => void) | undefined)?.bind(sink)
      return hook === undefined ? [] : [hook]
    })
    combined[key as string] = (...args) => {
      for (const hook of hooks) hook(...args)
    }
  }
  return combined as T
}
