/** Closed: attempts go. Open: attempts wait out the cool-down. Half-open: one probe goes, the rest wait for its verdict. */
export type BreakerState = 'closed' | 'open' | 'half-open'

/** Why a batch went to dead letters. */
export type DeadLetterReason =
  /** the destination refused it (a 4xx other than 408 and 429): no retry */
  | 'rejected'
  /** every attempt of the route's `maxAttempts` failed */
  | 'exhausted'
  /** the route's bounded queue was full (a dead or open-breaker route without an outbox) */
  | 'overflow'
  /** still pending when shutdown's deadline came, without an outbox to keep it */
  | 'shutdown'
  /** a transform of the route threw on the event (it never reached the route) */
  | 'transform'

/**
 * What routing reports about itself, as a catalogue of typed events (one injected object, no
 * logger per component). Every hook is optional; the composition root maps them to log lines and
 * prom-client series.
 */
export interface RouterTelemetry {
  /** a batch was taken by its route (2xx) */
  batchDelivered?(route: string, events: number, attempts: number, durationMs: number): void
  /** an attempt failed and another follows after `delayMs` */
  deliveryRetried?(route: string, error: unknown, attempt: number, delayMs: number): void
  /** events were written to dead letters */
  batchDeadLettered?(route: string, events: number, reason: DeadLetterReason, error: string): void
  /** dead letters could not be written within their budget: with an outbox the events stay queued; without one they are lost (counted here) */
  deadLetterWriteFailed?(route: string, events: number, error: unknown, kept: boolean): void
  breakerChanged?(route: string, state: BreakerState): void
  /** the outbox failed: appends fall back to in-memory delivery, reads are retried later */
  outboxFailed?(
    operation: 'append' | 'read' | 'ack',
    route: string | undefined,
    error: unknown,
  ): void
  /** a route's chain threw in a way it does not expect; it is run again with what it held */
  routeRestarted?(route: string, error: unknown): void
  /** dead letters of a route were handed back to it (a replay, or the resend at start of what shutdown left) */
  replayed?(route: string, events: number): void
  /** the resend at start failed (dead letters unreadable): the rows stay, POST /v1/dead-letters/replay sends them */
  resumeFailed?(route: string, error: unknown): void
}
