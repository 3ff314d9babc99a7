import {
  asyncScheduler,
  catchError,
  concat,
  concatMap,
  defer,
  EMPTY,
  endWith,
  finalize,
  ignoreElements,
  mergeMap,
  of,
  tap,
  type Observable,
  type ObservableInput,
  type OperatorFunction,
  type SchedulerLike,
} from 'rxjs'
import type { ClaimedBatch, CommittedBatch, Envelope } from '../envelope.js'
import type { AcceptedEvent } from '../event.js'
import { failed } from '../outcome.js'
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
  /**
   * Routing's hand-off (the router's `enqueue`: with an outbox, the append), run once a batch is
   * written and before its claims are confirmed. A hand-off that fails settles the batch `failed`
   * and releases its claims: its clients send it again, the re-send is stored again (the table
   * collapses it) and handed off, rather than answered `duplicate` of an event no route will get.
   */
  readonly handOff?: (events: readonly AcceptedEvent[]) => ObservableInput<void>
}

/**
 * Writes each batch to the sink in one insert, at most `concurrency` at a time, retrying with
 * backoff while the sink's policy calls the error retriable and the budget lasts. Batches that had
 * to wait for a free insert go together into one, up to `maxRows`.
 *
 * - committed: `handOff` gives the batch to the routes, then the claims' receipts are confirmed
 *   (their reservations become marks) and the batch is emitted, not yet settled: `acknowledge`
 *   settles it `accepted` next. In this order a process killed between the insert and the hand-off
 *   leaves its ids reserved by a dead owner (free within seconds), never marked seen: a re-send is
 *   accepted and routed. Marked seen first, the re-send was told `duplicate` and no route ever got
 *   the event (the many-instances cluster test lost a frame's events this way);
 * - committed, but the hand-off failed: as gave up below (the rows stay, and collapse with the re-send);
 * - gave up: the receipts are released and every event settles `failed`; nothing is emitted and
 *   the stream goes on.
 *
 * The receipts of batches it holds when it is unsubscribed (waiting, or being written) are
 * released, so a chain the supervisor replaces leaves no reservation behind for the re-sends.
 *
 * ```
 * sink fails once, then takes the batch; retry.initialMs 10 (random () => 1)
 * source: --B------------|
 * commit: -------------B-|    (B written by the second insert, its claims confirmed)
 * ```
 *
 * ```
 * concurrency 1, sink latency 5: A is being written when B and C come, so they wait and go in one insert
 * source: -A-B-C------|
 * commit: ------A----(BC)|   (B and C committed together, as one batch)
 * ```
 *
 * @example
 * claimed$.pipe(commit({ sink, store, concurrency: 4, maxRows: 10_000, retry: { initialMs: 100, maxMs: 5000, budgetMs: 20_000 } }))
 */
export function commit(options: CommitOptions): OperatorFunction<ClaimedBatch, CommittedBatch> {
  const {
    sink,
    store,
    concurrency,
    maxRows = 0,
    scheduler = asyncScheduler,
    telemetry = {},
    handOff,
  } = options
  const retry = retryWithBackoff<void>({
    ...options.retry,
    isRetriable: (error) => sink.isRetriable(error),
    scheduler,
    onRetry: telemetry.insertRetried?.bind(telemetry),
  })

  function commitOne(batch: ClaimedBatch, holding: Set<ClaimedBatch>) {
    const { envelopes, receipts } = batch
    const started = scheduler.now()
    // The receipts are handed back here (confirm or release) and nowhere else.
    const done = (operation: 'confirm' | 'release') => (
      holding.delete(batch),
      storeStep(operation, receipts)
    )
    const committed = (durationMs: number) =>
      defer(() => {
        telemetry.batchCommitted?.(envelopes.length, durationMs, envelopes.map(fieldsOf))
        const committedBatch = new Committed(envelopes)
        // Confirm before the ack so that a client re-sending right after its ack is told `duplicate`.
        return concat(
          handOff ? defer(() => handOff(committedBatch.events)).pipe(ignoreElements()) : EMPTY,
          defer(() => {
            // Stored and durable for its routes: a supervisor restart from here on answers `accepted`.
            for (const envelope of envelopes) envelope.committed?.()
            return concat(done('confirm'), of<CommittedBatch>(committedBatch))
          }),
        ).pipe(
          catchError((error: unknown) => {
            telemetry.handOffFailed?.(envelopes.length, error)
            return settleFailed(`routing unavailable: ${describe(error)}`)
          }),
        )
      })
    const settleFailed = (reason: string) =>
      concat(
        done('release'),
        defer(() => {
          const outcome = failed(reason)
          for (const envelope of envelopes) envelope.settle(outcome)
          return EMPTY
        }),
      )
    const gaveUp = (error: unknown) =>
      defer(() => {
        telemetry.batchFailed?.(envelopes.length, error)
        return settleFailed(`storage unavailable: ${describe(error)}`)
      })
    return defer(() => sink.write(envelopes)).pipe(
      retry,
      ignoreElements(),
      endWith(COMMITTED),
      catchError((error: unknown) => of({ error })),
      concatMap((result) =>
        result === COMMITTED ? committed(scheduler.now() - started) : gaveUp(result.error),
      ),
    )
  }

  /** A confirm or release that fails is reported and then ignored: the reservation expires by itself. */
  function storeStep(
    operation: 'confirm' | 'release',
    receipts: readonly ClaimReceipt[],
  ): Observable<never> {
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
      // Batches whose receipts are not handed back yet: waiting, or being written.
      const holding = new Set<ClaimedBatch>()
      return source.pipe(
        tap((batch) => (waiting.push(batch), holding.add(batch))),
        mergeMap(() => {
          const next = takeWaiting(waiting, maxRows, holding)
          return next === undefined ? EMPTY : commitOne(next, holding)
        }, concurrency),
        finalize(() => {
          const left = [...holding].flatMap((batch) => batch.receipts)
          holding.clear()
          if (left.length > 0) storeStep('release', left).subscribe()
        }),
      )
    })
}

/** The first waiting batch, with the batches after it that fit within maxRows (their receipts go with them, held as one). */
function takeWaiting(
  waiting: ClaimedBatch[],
  maxRows: number,
  holding: Set<ClaimedBatch>,
): ClaimedBatch | undefined {
  const first = waiting.shift()
  if (
    first === undefined ||
    waiting.length === 0 ||
    first.envelopes.length + waiting[0]!.envelopes.length > maxRows
  )
    return first
  const envelopes = [...first.envelopes]
  const receipts = [...first.receipts]
  holding.delete(first)
  while (waiting.length > 0 && envelopes.length + waiting[0]!.envelopes.length <= maxRows) {
    const next = waiting.shift()!
    holding.delete(next)
    envelopes.push(...next.envelopes)
    receipts.push(...next.receipts)
  }
  const merged = { envelopes, receipts }
  holding.add(merged)
  return merged
}

const COMMITTED = 'committed' as const

const fieldsOf = (envelope: Envelope) => envelope.fields ?? envelope.event

/**
 * A committed batch whose events are built when first read (a route's hand-off, the accepted-events
 * stream), not for every batch: without routes or listeners nothing reads them (validate.ts).
 */
class Committed implements CommittedBatch {
  private built: readonly AcceptedEvent[] | undefined

  constructor(readonly envelopes: readonly Envelope[]) {}

  get events(): readonly AcceptedEvent[] {
    return (this.built ??= this.envelopes.map((envelope) => envelope.event))
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : String(error)
}
