import {
  asyncScheduler,
  defer,
  retry,
  throwError,
  timer,
  type MonoTypeOperatorFunction,
  type SchedulerLike,
} from 'rxjs'

export interface BackoffOptions {
  /** delay ceiling of the first retry */
  readonly initialMs: number
  /** the ceiling doubles per attempt up to this */
  readonly maxMs: number
  /** no retry starts whose wait would end later than this after the first attempt began */
  readonly budgetMs: number
  /** the adapter's policy: only errors it calls retriable are retried */
  readonly isRetriable?: (error: unknown) => boolean
  /** [0, 1); injectable so that marble tests know the exact waits */
  readonly random?: () => number
  readonly scheduler?: SchedulerLike
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void
}

/**
 * The wait before retry number `attempt` (1-based): "equal jitter" — half the exponential ceiling
 * for sure, the other half at random, so that retries spread out but never hammer.
 */
export function backoffDelay(
  attempt: number,
  options: Pick<BackoffOptions, 'initialMs' | 'maxMs' | 'random'>,
): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** (attempt - 1))
  return Math.round(ceiling / 2 + (options.random ?? Math.random)() * (ceiling / 2))
}

/**
 * Resubscribes to the source after a retriable error, with exponential backoff and jitter, for as
 * long as the time budget allows; then lets the last error through.
 *
 * ```
 * initialMs 10, maxMs 1000, budgetMs 100, random () => 1: waits 10, 20 and 40 ms; the next (80)
 * would end past the budget, so the fourth attempt's error goes through
 *
 * source (cold):  -#
 * subscriptions:  ^!, 11ms ^!, 32ms ^!, 73ms ^!            one attempt after each wait
 * result:         - 10ms - 20ms - 40ms -#                  one error, the last attempt's, at 74 ms
 * ```
 *
 * The errors of the attempts before the last never reach the subscriber: retrying is invisible but
 * for the time it takes.
 *
 * @example
 * defer(() => sink.write(rows)).pipe(retryWithBackoff({ initialMs: 100, maxMs: 5000, budgetMs: 30_000, isRetriable: sink.isRetriable }))
 */
export function retryWithBackoff<T>(options: BackoffOptions): MonoTypeOperatorFunction<T> {
  const { budgetMs, isRetriable = () => true, scheduler = asyncScheduler, onRetry } = options
  return (source) =>
    defer(() => {
      const started = scheduler.now()
      return source.pipe(
        retry({
          delay(error: unknown, attempt: number) {
            const wait = backoffDelay(attempt, options)
            if (!isRetriable(error) || scheduler.now() - started + wait > budgetMs)
              return throwError(() => error)
            onRetry?.(error, attempt, wait)
            return timer(wait, scheduler)
          },
        }),
      )
    })
}
