import {
  catchError,
  defer,
  EMPTY,
  endWith,
  ignoreElements,
  mergeMap,
  type MonoTypeOperatorFunction,
  type ObservableInput,
} from 'rxjs'
import type { CommittedBatch } from '../envelope.js'
import type { AcceptedEvent } from '../event.js'
import type { PipelineTelemetry } from '../telemetry.js'

/** What the pipeline needs of routing: the router's `enqueue`, which never rejects (an outbox failure falls back to memory). */
export interface RouteHandOff {
  enqueue(events: readonly AcceptedEvent[]): ObservableInput<void>
}

export interface HandOffOptions {
  readonly routes: RouteHandOff
  /** batches being handed off at once (INSERT_CONCURRENCY: as many as can be committed at once) */
  readonly concurrency: number
  readonly telemetry?: PipelineTelemetry
}

/**
 * Hands each committed batch to the routes that match its events, and passes the batch on once
 * they have it: with an outbox, once the events are appended there (one round trip per batch), so
 * an event is durable for its routes before its client hears `accepted`, and a crash right after
 * the ack loses no route delivery. It runs after the insert, never inside it: the insert's duration
 * and its retry budget are the insert's alone, and a batch is handed off once, however many
 * attempts its insert took.
 *
 * A hand-off that fails anyway is reported and the batch goes on: the events are stored, and
 * failing their ack would only make clients send them again.
 *
 * ```
 * enqueue takes 2 ms (an outbox append)
 * source:  -a---b--|
 * handOff: ---a---b|
 * ```
 *
 * @example
 * claimed$.pipe(commit({ … }), handOff({ routes: router, concurrency: 4 }), acknowledge())
 */
export function handOff(options: HandOffOptions): MonoTypeOperatorFunction<CommittedBatch> {
  const { routes, concurrency, telemetry = {} } = options
  return (source) =>
    source.pipe(
      mergeMap(
        (batch) =>
          defer(() => routes.enqueue(batch.events)).pipe(
            ignoreElements(),
            catchError((error: unknown) => {
              telemetry.handOffFailed?.(batch.events.length, error)
              return EMPTY
            }),
            endWith(batch),
          ),
        concurrency,
      ),
    )
}
