import { map, type OperatorFunction } from 'rxjs'
import type { CommittedBatch } from '../envelope.js'
import type { AcceptedEvent } from '../event.js'
import { ACCEPTED } from '../outcome.js'

/**
 * The last stage: settles every event of a committed (and handed-off) batch `accepted`, which
 * answers its client, and emits the events: the accepted-events stream.
 *
 * ```
 * source:      -a--b-|
 * acknowledge: -a--b-|   (each event of a and b settled accepted as its batch passes)
 * ```
 *
 * @example
 * committed$.pipe(acknowledge()).subscribe((events) => console.log(events.length, 'accepted'))
 */
export function acknowledge(): OperatorFunction<CommittedBatch, readonly AcceptedEvent[]> {
  return (source) =>
    source.pipe(
      map(({ envelopes, events }) => {
        for (const envelope of envelopes) envelope.settle(ACCEPTED)
        return events
      }),
    )
}
