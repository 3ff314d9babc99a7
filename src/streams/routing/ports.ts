import type { ObservableInput } from 'rxjs'
import type { AcceptedEvent } from '../event.js'
import type { Route } from './route.js'

/**
 * The ports routing depends on (ARCHITECTURE.md, "delivery"). Adapters implement them; the router
 * never sees an HTTP, Redis or ClickHouse client. Every call returns an ObservableInput so that
 * production hands back promises (wrapped in `defer`) and marble tests cold observables.
 */

/** One batch for one route: its id is the `idempotency-key`, the same on every attempt. */
export interface DeliveryBatch {
  readonly id: string
  readonly events: readonly AcceptedEvent[]
}

export interface Delivery {
  /**
   * One attempt: one POST of the batch. Completes once the route took it (2xx); errors with a
   * DeliveryError saying whether another attempt may succeed. Unsubscribing aborts the attempt.
   */
  send(route: Route, batch: DeliveryBatch): ObservableInput<unknown>
}

/** A batch that routing gave up on, one row per event (API.md §5). */
export interface DeadLetter {
  readonly route: string
  readonly event: AcceptedEvent
  /** the last error */
  readonly error: string
  /** attempts made; 0 when the event never got one (queue overflow) */
  readonly attempts: number
  /** epoch ms it was written */
  readonly time: number
}

export interface DeadLetterQuery {
  readonly route?: string
  /** epoch ms: only dead letters written at or after it */
  readonly sinceMs?: number
  readonly limit: number
}

/** The dead letters of one route written in [sinceMs, untilMs]. */
export interface DeadLetterRange {
  readonly route: string
  readonly sinceMs?: number
  readonly untilMs: number
  /** only rows with exactly this error (what a start resends: PENDING_AT_SHUTDOWN) */
  readonly error?: string
}

/** A dead letter as stored: `key` names its row (for paging and removal). */
export interface StoredDeadLetter extends DeadLetter {
  readonly key: string
}

export interface DeadLetterStore {
  /** Appends the rows in one insert; completes once they are durable. */
  write(letters: readonly DeadLetter[]): ObservableInput<unknown>
  /** the store's retry policy for `write` */
  isRetriable(error: unknown): boolean
  /** The newest first. */
  list(query: DeadLetterQuery): ObservableInput<StoredDeadLetter[]>
  /** Up to `limit` of a range, oldest first, after the row `after` names (the last key of the previous page). */
  page(range: DeadLetterRange, limit: number, after?: string): ObservableInput<StoredDeadLetter[]>
  /** Deletes exactly these rows of a route, once replay has handed them on (rows written meanwhile stay). */
  remove(route: string, keys: readonly string[]): ObservableInput<unknown>
}

/** An event read back from the outbox; `receipt` acknowledges it. */
export interface OutboxEntry {
  readonly receipt: string
  readonly event: AcceptedEvent
}

/**
 * A durable queue per route, shared by every Sluice instance: events are appended before they are
 * acked to the client and acknowledged only once delivered or dead-lettered, so a crash loses none.
 */
export interface RouteOutbox {
  /** Prepares each route's queue (idempotent). */
  open(routes: readonly string[]): ObservableInput<unknown>
  /** Appends the events each route matched, in one round trip. */
  append(
    entries: ReadonlyArray<{ readonly route: string; readonly events: readonly AcceptedEvent[] }>,
  ): ObservableInput<unknown>
  /**
   * Up to `max` entries this process should deliver, without waiting: entries it held before a
   * restart first, then entries a crashed instance held too long, then new ones. Never the same
   * entry twice while it is held.
   */
  read(route: string, max: number): ObservableInput<OutboxEntry[]>
  /** Delivered or dead-lettered: the entries are done for good. */
  ack(route: string, receipts: readonly string[]): ObservableInput<unknown>
  /** Will not be settled by this process (a dead-letter write failed): let a later read take them again. */
  release(route: string, receipts: readonly string[]): void
}

/** A named lock that one holder has at a time, across every instance that shares the store. */
export interface Lock {
  readonly name: string
  /** it lapsed while held (the holder stalled past the lock's TTL) and another took it */
  readonly lost: boolean
  release(): Promise<void>
}

/**
 * Locks for what only one instance may do at a time (a route's replay; holding a consumer name).
 * A holder that dies frees its locks within `ttlMs`; a live one keeps them as long as it likes.
 */
export interface Locks {
  readonly ttlMs: number
  /** Takes `name` if nobody holds it; undefined if someone does. */
  take(name: string): Promise<Lock | undefined>
  /** Tries again every `pollMs` (default 200) until it has the lock or `waitMs` has passed. */
  wait(name: string, waitMs: number, pollMs?: number): Promise<Lock | undefined>
  /** Who holds `name` now (host and process, for messages), if anyone. */
  holder(name: string): Promise<string | undefined>
}
