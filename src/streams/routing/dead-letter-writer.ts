import {
  asyncScheduler,
  catchError,
  defer,
  endWith,
  ignoreElements,
  map,
  of,
  type Observable,
  type SchedulerLike,
} from 'rxjs'
import { retryWithBackoff, type BackoffOptions } from '../operators/retry-with-backoff.js'
import type { AcceptedEvent } from '../event.js'
import type { DeadLetterStore } from './ports.js'
import type { DeadLetterReason, RouterTelemetry } from './telemetry.js'

/** One event on its way through a route. */
export interface RouteItem {
  readonly event: AcceptedEvent
  /** the outbox's receipt: acknowledged once the item is settled */
  readonly receipt?: string
  /** this item's own error, when it differs from its batch's (each event a transform threw on) */
  readonly error?: string
  /** called once the item is settled, whichever way (replay waits on it) */
  readonly onSettled?: (outcome: SettledBatch['outcome']) => void
}

/**
 * How a batch left the route: taken by the destination, written to dead letters, or neither (the
 * dead-letter write failed too: an outbox keeps such items for a later read; without one they are lost, and counted).
 */
export interface SettledBatch {
  readonly items: readonly RouteItem[]
  readonly outcome: 'delivered' | 'dead-lettered' | 'unsettled'
}

export interface DeadLetterWriterOptions {
  readonly store: DeadLetterStore
  /** backoff of dead-letter inserts (ClickHouse may be down too) */
  readonly retry: Pick<BackoffOptions, 'initialMs' | 'maxMs' | 'budgetMs' | 'random'>
  readonly scheduler?: SchedulerLike
  readonly telemetry?: RouterTelemetry
}

export type DeadLetterWriter = (
  route: string,
  items: readonly RouteItem[],
  reason: DeadLetterReason,
  error: string,
  attempts: number,
) => Observable<SettledBatch>

/**
 * Writes items to dead letters in one insert (one row per event), retrying within the store's
 * budget, and says how they settled. Never errors: a failure is an outcome, counted, not an error
 * that would end the route's stream.
 *
 * @example
 * const write = deadLetterWriter({ store, retry: { initialMs: 200, maxMs: 5000, budgetMs: 60_000 } })
 * write('analytics', items, 'rejected', 'HTTP 400', 1).subscribe(settle)
 */
export function deadLetterWriter(options: DeadLetterWriterOptions): DeadLetterWriter {
  const { store, scheduler = asyncScheduler, telemetry = {} } = options
  const retry = retryWithBackoff<unknown>({
    ...options.retry,
    isRetriable: (error) => store.isRetriable(error),
    scheduler,
  })
  return function writeDeadLetters(route, items, reason, error, attempts) {
    return defer(() => {
      const time = scheduler.now()
      const letters = items.map((item) => ({
        route,
        event: item.event,
        error: item.error ?? error,
        attempts,
        time,
      }))
      return defer(() => store.write(letters)).pipe(
        retry,
        ignoreElements(),
        endWith('written' as const),
        map((): SettledBatch => {
          telemetry.batchDeadLettered?.(route, items.length, reason, error)
          return { items, outcome: 'dead-lettered' }
        }),
        catchError((writeError: unknown) => {
          telemetry.deadLetterWriteFailed?.(
            route,
            items.length,
            writeError,
            items.every((item) => item.receipt !== undefined),
          )
          return of<SettledBatch>({ items, outcome: 'unsettled' })
        }),
      )
    })
  }
}
