import {
  asyncScheduler,
  retry,
  throwError,
  timer,
  type MonoTypeOperatorFunction,
  type SchedulerLike,
} from 'rxjs'
import { backoffDelay } from '../operators/retry-with-backoff.js'
import { classify } from './delivery-error.js'

/** Ten minutes: a Retry-After longer than this is taken as this (a typo should not park a batch for a day). */
export const RETRY_AFTER_MAX_MS = 600_000

export interface RetryDeliveryOptions {
  /** attempts in all, the first one included */
  readonly maxAttempts: number
  /** backoff ceiling of the first retry; it doubles per retry up to `maxMs` (equal jitter, as inserts) */
  readonly initialMs: number
  readonly maxMs: number
  /** [0, 1); injectable so that marble tests know the exact waits */
  readonly random?: () => number
  readonly scheduler?: SchedulerLike
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void
}

/**
 * Resubscribes to a delivery attempt after a retriable error, up to `maxAttempts` attempts in all:
 * after the destination's Retry-After when it sent one (429, 503), else after exponential backoff
 * with jitter. A final error (a 4xx other than 408/429), or the last attempt's error, goes through.
 * Unlike inserts' `retryWithBackoff`, the budget is a count of attempts (API.md §8 `maxAttempts`),
 * because time spent waiting for a circuit breaker must not use it up.
 *
 * ```
 * maxAttempts 3, initialMs 10, random () => 1; the 2nd error carries Retry-After 50 ms
 * source (cold): -#
 * result:        -- 10ms -- 50ms -#       (attempts at 0, 11 and 62 ms; the third error goes through)
 * ```
 *
 * @example
 * defer(() => delivery.send(route, batch)).pipe(retryDelivery({ maxAttempts: 8, initialMs: 200, maxMs: 30_000 }))
 */
export function retryDelivery<T>(options: RetryDeliveryOptions): MonoTypeOperatorFunction<T> {
  const { maxAttempts, scheduler = asyncScheduler, onRetry } = options
  return (source) =>
    source.pipe(
      retry({
        delay(error: unknown, failures: number) {
          const { retriable, retryAfterMs } = classify(error)
          if (!retriable || failures >= maxAttempts) return throwError(() => error)
          const wait =
            retryAfterMs === undefined
              ? backoffDelay(failures, options)
              : Math.min(Math.max(0, retryAfterMs), RETRY_AFTER_MAX_MS)
          onRetry?.(error, failures, wait)
          return timer(wait, scheduler)
        },
      }),
    )
}
