import type { AcceptedEvent } from '../streams/event.js'

/** What the REST surface reads back from storage (GET /v1/events). */
export interface EventReader {
  recent(query: { readonly type?: string; readonly sinceMs?: number; readonly limit: number }): Promise<AcceptedEvent[]>
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
