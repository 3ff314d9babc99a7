import {
  asyncScheduler,
  catchError,
  defer,
  endWith,
  ignoreElements,
  mergeMap,
  of,
  throwError,
  timeout,
  type Observable,
  type OperatorFunction,
  type SchedulerLike,
} from 'rxjs'
import { batch } from '../operators/batch.js'
import type { CircuitBreaker } from './circuit-breaker.js'
import type { DeadLetterWriter, RouteItem, SettledBatch } from './dead-letter-writer.js'
import { classify, describeError, retriableError } from './delivery-error.js'
import type { Delivery } from './ports.js'
import { retryDelivery } from './retry-delivery.js'
import type { Route } from './route.js'
import type { RouterTelemetry } from './telemetry.js'
import { throughBreaker } from './through-breaker.js'

export interface DeliverRouteDeps {
  readonly delivery: Delivery
  readonly breaker: CircuitBreaker
  readonly deadLetters: DeadLetterWriter
  /** the batch id (`idempotency-key`): made once per batch, before its first attempt */
  readonly newBatchId: () => string
  readonly scheduler?: SchedulerLike
  /** backoff jitter in [0, 1) */
  readonly random?: () => number
  readonly telemetry?: RouterTelemetry
}

/**
 * One route's delivery chain: batches by count and time, at most `concurrency` batches
 * in flight, each attempt through the route's circuit breaker and under its timeout, retried with
 * backoff (or after Retry-After) up to `maxAttempts`; a batch refused for good or out of attempts
 * goes to dead letters. Emits every batch once it is settled; never errors.
 *
 * ```
 * batchMaxEvents 2, batchMaxWaitMs 1000, concurrency 1; the destination takes 5 ms a batch
 * items:   -ab-c-------|
 * settled: -------x---------(y|)    x = [a,b] delivered; [c] goes when the items complete (12 ms)
 * ```
 *
 * @example
 * items$.pipe(deliverRoute(route, { delivery, breaker, deadLetters, newBatchId })).subscribe(settle)
 */
export function deliverRoute(
  route: Route,
  deps: DeliverRouteDeps,
): OperatorFunction<RouteItem, SettledBatch> {
  const scheduler = deps.scheduler ?? asyncScheduler
  const deliver = deliverBatch(route, { ...deps, scheduler })
  return (items$) =>
    items$.pipe(
      batch({ maxRows: route.batchMaxEvents, maxWaitMs: route.batchMaxWaitMs, scheduler }),
      // The cap from the route; mergeMap holds the batches beyond it, and the router bounds how many there are.
      mergeMap(deliver, route.concurrency),
    )
}

/** One batch: attempts until delivered, refused or out of attempts; then dead letters if need be. */
export function deliverBatch(
  route: Route,
  deps: DeliverRouteDeps & { readonly scheduler: SchedulerLike },
): (items: RouteItem[]) => Observable<SettledBatch> {
  const { delivery, breaker, deadLetters, newBatchId, scheduler, random, telemetry = {} } = deps
  const isFailure = (error: unknown) => classify(error).retriable
  const onRetry = (error: unknown, attempt: number, delayMs: number) =>
    telemetry.deliveryRetried?.(route.name, error, attempt, delayMs)

  return function deliverOne(items) {
    return defer(() => {
      const sent = { id: newBatchId(), events: items.map((item) => item.event) }
      const started = scheduler.now()
      let attempts = 0
      // The timeout is here, on the scheduler, so that it counts from the permit, not from the wait for it.
      const attempt = defer(() => {
        attempts++
        return delivery.send(route, sent)
      }).pipe(
        timeout({
          first: route.timeoutMs,
          with: () => throwError(() => retriableError(`timed out after ${route.timeoutMs} ms`)),
          scheduler,
        }),
        throughBreaker(breaker, isFailure),
      )
      return attempt.pipe(
        retryDelivery({
          maxAttempts: route.maxAttempts,
          initialMs: route.backoffInitialMs,
          maxMs: route.backoffMaxMs,
          random,
          scheduler,
          onRetry,
        }),
        ignoreElements(),
        endWith(undefined),
        mergeMap(() => {
          telemetry.batchDelivered?.(route.name, items.length, attempts, scheduler.now() - started)
          return of<SettledBatch>({ items, outcome: 'delivered' })
        }),
        catchError((error: unknown) =>
          deadLetters(
            route.name,
            items,
            isFailure(error) ? 'exhausted' : 'rejected',
            describeError(error),
            attempts,
          ),
        ),
      )
    })
  }
}
