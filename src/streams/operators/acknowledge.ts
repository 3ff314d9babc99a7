import { tap, type MonoTypeOperatorFunction } from 'rxjs'
import type { CommittedBatch } from '../envelope.js'
import { ACCEPTED } from '../outcome.js'

/**
 * The last stage: settles every event of a committed (and handed-off) batch `accepted`, which
 * answers its client, and passes the batch on: its `events` are the accepted-events stream.
 *
 * ```
 * source:      -a--b-|
 * acknowledge: -a--b-|   (each event of a and b settled accepted as its batch passes)
 * ```
 *
 * @example
 * committed$.pipe(acknowledge()).subscribe((batch) => console.log(batch.envelopes.length, 'accepted'))
 */
export function acknowledge(): MonoTypeOperatorFunction<CommittedBatch> {
  return (source) =>
    source.pipe(
      tap(({ envelopes }) => {
        for (const envelope of envelopes) envelope.settle(ACCEPTED)
      }),
    )
}
