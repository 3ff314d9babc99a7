import { asyncScheduler, catchError, concat, concatMap, defer, EMPTY, endWith, ignoreElements, mergeMap, of, tap, type OperatorFunction, type SchedulerLike } from 'rxjs'
import type { ClaimedBatch } from '../envelope.js'
import type { AcceptedEvent } from '../event.js'
import { ACCEPTED, failed } from '../outcome.js'
import type { ClaimReceipt, DedupeStore, EventSink } from '../ports.js'
import type { PipelineTelemetry } from '../telemetry.js'
import { retryWithBackoff, type BackoffOptions } from './retry-with-backoff.js'

export interface CommitOptions {
  readonly sink: EventSink
  /** holds the claims made by `dedupe`: confirmed after the commit, released after a final failure */
  readonly store: DedupeStore
  /** inserts in flight at once (INSERT_CONCURRENCY) */
  readonly concurrency: number
  /**
   * Batches that wait for a free insert are merged into one insert of up to this many rows
   * (INSERT_BATCH_MAX_ROWS; default: never merged). Under load, fewer and larger inserts: less work
   * per row for the store, and a queue that empties faster.
   */
  readonly maxRows?: number
  readonly retry: Pick<BackoffOptions, 'initialMs' | 'maxMs' | 'budgetMs' | 'random'>
  readonly scheduler?: SchedulerLike
  readonly telemetry?: PipelineTelemetry
}

/**
 * Writes each batch to the sink in one insert, at most `concurrency` at a time, retrying with
 * backoff while the sink's policy calls the error retriable and the budget lasts. Batches that had
 * to wait for a free insert go together into one, up to `maxRows`.
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
 * ```
 * concurrency 1, sink latency 5: A is being written when B and C come, so they wait and go in one insert
 * source: -A-B-C------|
 * commit: ------A----(BC)|   (B and C settle together, as one batch)
 * ```
 *
 * @example
 * fresh$.pipe(commit({ sink, store, concurrency: 4, maxRows: 10_000, retry: { initialMs: 100, maxMs: 5000, budgetMs: 20_000 } }))
 */
export function commit(options: CommitOptions): OperatorFunction<ClaimedBatch, AcceptedEvent[]> {
  const { sink, store, concurrency, maxRows = 0, scheduler = asyncScheduler, telemetry = {} } = options
  const retry = retryWithBackoff<void>({
    ...options.retry,
    isRetriable: (error) => sink.isRetriable(error),
    scheduler,
    onRetry: telemetry.insertRetried?.bind(telemetry),
  })

  function commitOne({ envelopes: batch, receipts }: ClaimedBatch) {
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
    return defer(() => sink.write(batch)).pipe(
      retry,
      ignoreElements(),
      endWith(COMMITTED),
      catchError((error: unknown) => of({ error })),
      // Confirm before settling so that a client re-sending right after its ack is told `duplicate`.
      concatMap((result) =>
        result === COMMITTED ? concat(storeStep('confirm', receipts), committed) : concat(storeStep('release', receipts), gaveUp(result.error)),
      ),
    )
  }

  /** A confirm or release that fails is reported and then ignored: the reservation expires by itself. */
  function storeStep(operation: 'confirm' | 'release', receipts: readonly ClaimReceipt[]) {
    if (receipts.length === 0) return EMPTY
    return defer(() => store[operation](receipts)).pipe(
      ignoreElements(),
      catchError((error: unknown) => {
        telemetry.dedupeStoreFailed?.(operation, error, 'ignored')
        return EMPTY
      }),
    )
  }

  return (source) =>
    defer(() => {
      // Every batch joins the queue as it comes; each free insert takes what has queued by then.
      // mergeMap calls its project only when an insert is free, once per batch, so a project may
      // find its batch already taken by an earlier one: it then writes nothing.
      const waiting: ClaimedBatch[] = []
      return source.pipe(
        tap((batch) => waiting.push(batch)),
        mergeMap(() => {
          const next = takeWaiting(waiting, maxRows)
          return next === undefined ? EMPTY : commitOne(next)
        }, concurrency),
      )
    })
}

/** The first waiting batch, with the batches after it that fit within maxRows (their receipts go with them). */
function takeWaiting(waiting: ClaimedBatch[], maxRows: number): ClaimedBatch | undefined {
  const first = waiting.shift()
  if (first === undefined || waiting.length === 0 || first.envelopes.length + waiting[0]!.envelopes.length > maxRows) return first
  const envelopes = [...first.envelopes]
  const receipts = [...first.receipts]
  while (waiting.length > 0 && envelopes.length + waiting[0]!.envelopes.length <= maxRows) {
    const next = waiting.shift()!
    envelopes.push(...next.envelopes)
    receipts.push(...next.receipts)
  }
  return { envelopes, receipts }
}

const COMMITTED = 'committed' as const

function describe(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : String(error)
}
