import type { AcceptedEvent } from '../streams/event.js'

/** What the REST surface reads back from storage (GET /v1/events). */
export interface EventReader {
  recent(query: {
    readonly type?: string
    readonly sinceMs?: number
    readonly limit: number
    /**
     * At most this many bytes of properties (as stored, canonical JSON) in all: fewer than `limit`
     * events when they are large, but always the newest one that matches.
     */
    readonly maxPropertiesBytes?: number
  }): Promise<AcceptedEvent[]>
}

/** One dependency GET /ready asks about; `check` rejects when it cannot take traffic now. */
export interface ReadinessCheck {
  readonly name: string
  /** which backend answers (e.g. `redis`, `in-process`, `clickhouse server`, `embedded chDB`) */
  readonly backend: string
  check(): Promise<void>
}

/** What the app counts about requests; the composition root backs it with prom-client. */
export interface HttpTelemetry {
  requestAnswered?(route: string, status: number): void
}

/** The Prometheus exposition of the registry the composition root built. */
export interface MetricsSource {
  readonly contentType: string
  metrics(): Promise<string>
}

/** A dead letter as GET /v1/dead-letters shows it. */
export interface DeadLetterView {
  readonly route: string
  readonly event: Record<string, unknown>
  readonly error: string
  readonly attempts: number
  /** RFC 3339 with milliseconds */
  readonly time: string
}

/** What the dead-letters endpoints need: listing them, and sending a route's again. */
export interface DeadLetterAdmin {
  list(query: {
    readonly route?: string
    readonly sinceMs?: number
    readonly limit: number
  }): Promise<DeadLetterView[]>
  /** rejects with UnknownRouteError for a route that is not configured, RoutingStoppedError while shutting down */
  replay(route: string, sinceMs?: number): Promise<{ replayed: number }>
}
