import { mergeMap, tap, type MonoTypeOperatorFunction } from 'rxjs'
import type { CircuitBreaker } from './circuit-breaker.js'

/**
 * Makes each subscription to the source (one delivery attempt) wait for the breaker's permit, and
 * reports how the attempt ended. Put it inside the retry, so that every attempt asks again.
 *
 * ```
 * breaker open until 10 ms, then half-open; attempt (cold): --a|
 * source subscribed:  ----------^--!
 * result:             ------------a|      (and the probe succeeded: the breaker closes)
 * ```
 *
 * @example
 * defer(() => delivery.send(route, batch)).pipe(throughBreaker(breaker, (e) => classify(e).retriable), retry(…))
 */
export function throughBreaker<T>(
  breaker: CircuitBreaker,
  isFailure: (error: unknown) => boolean,
): MonoTypeOperatorFunction<T> {
  return (attempt) =>
    breaker.permit().pipe(
      mergeMap((permit) =>
        attempt.pipe(
          tap({
            complete: () => permit.succeeded(),
            error: (error: unknown) => (isFailure(error) ? permit.failed() : permit.succeeded()),
            // Runs after complete and error too; the permit ignores a second report.
            finalize: () => permit.abandoned(),
          }),
        ),
      ),
    )
}
