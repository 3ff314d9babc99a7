import { asyncScheduler, catchError, concat, concatMap, defer, EMPTY, endWith, ignoreElements, mergeMap, of, type OperatorFunction, type SchedulerLike } from 'rxjs'
import type { Envelope } from '../envelope.js'
import type { AcceptedEvent } from '../event.js'
import { ACCEPTED, failed } from '../outcome.js'
import type { DedupeStore, EventSink } from '../ports.js'
import type { PipelineTelemetry } from '../telemetry.js'
import { toClaim } from './dedupe.js'
import { retryWithBackoff, type BackoffOptions } from './retry-with-backoff.js'

export interface CommitOptions {
  readonly sink: EventSink
  /** holds the claims made by `dedupe`: confirmed after the commit, released after a final failure */
  readonly store: DedupeStore
  /** inserts in flight at once (INSERT_CONCURRENCY) */
  readonly concurrency: number
  readonly retry: Pick<BackoffOptions, 'initialMs' | 'maxMs' | 'budgetMs' | 'random'>
  readonly scheduler?: SchedulerLike
  readonly telemetry?: PipelineTelemetry
}

/**
 * Writes each batch to the sink in one insert, at most `concurrency` at a time, retrying with
 * backoff while the sink's policy calls the error retriable and the budget lasts.
 *
 * - committed: the dedupe reservations become marks, every event settles `accepted` and the batch
 *   is emitted (the accepted-events stream);
 * - gave up: the reservations are released and every event settles `failed`; nothing is emitted and
 *   the stream goes on.
 *
 * ```
 * sink fails once, then takes the batch; retry.initialMs 10 (random () => 1)
 * source: --B------------|
 * commit: -------------B-|    (B settled accepted after the second insert)
 * ```
 *
 * @example
 * fresh$.pipe(commit({ sink, store, concurrency: 4, retry: { initialMs: 100, maxMs: 5000, budgetMs: 20_000 } }))
 */
export function commit(options: CommitOptions): OperatorFunction<Envelope[], AcceptedEvent[]> {
  const { sink, store, concurrency, scheduler = asyncScheduler, telemetry = {} } = options
  const retry = retryWithBackoff<void>({
    ...options.retry,
    isRetriable: (error) => sink.isRetriable(error),
    scheduler,
    onRetry: telemetry.insertRetried?.bind(telemetry),
  })

  function commitOne(batch: Envelope[]) {
    const events = batch.map((envelope) => envelope.event)
    const started = scheduler.now()
    const committed = defer(() => {
      telemetry.batchCommitted?.(events.length, scheduler.now() - started, events)
      for (const envelope of batch) envelope.settle(ACCEPTED)
      return of(events)
    })
    const gaveUp = (error: unknown) =>
      defer(() => {
        telemetry.batchFailed?.(events.length, error)
        const outcome = failed(`storage unavailable: ${describe(error)}`)
        for (const envelope of batch) envelope.settle(outcome)
        return EMPTY
      })
    const propertiesTexts = batch.map((envelope) => envelope.propertiesText)
    return defer(() => sink.write(events, propertiesTexts)).pipe(
      retry,
      ignoreElements(),
      endWith(COMMITTED),
      catchError((error: unknown) => of({ error })),
      // Confirm before settling so that a client re-sending right after its ack is told `duplicate`.
      concatMap((result) =>
        result === COMMITTED ? concat(storeStep('confirm', batch), committed) : concat(storeStep('release', batch), gaveUp(result.error)),
      ),
    )
  }

  /** A confirm or release that fails is reported and then ignored: the reservation expires by itself. */
  function storeStep(operation: 'confirm' | 'release', batch: Envelope[]) {
    return defer(() => store[operation](batch.map(toClaim))).pipe(
      ignoreElements(),
      catchError((error: unknown) => {
        telemetry.dedupeStoreFailed?.(operation, error, 'ignored')
        return EMPTY
      }),
    )
  }

  return (source) => source.pipe(mergeMap(commitOne, concurrency))
}

const COMMITTED = 'committed' as const

function describe(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : String(error)
}
