import { concat, defer, ignoreElements, type Observable } from 'rxjs'
import type { EventRow, EventSink } from '../ports.js'
import type { Router } from './router.js'

/**
 * An EventSink whose write also hands the committed rows to routing, after the insert and before
 * the pipeline settles (acks) them: with an outbox, an event is durable for its routes before its
 * client hears `accepted`, so a crash right after the ack loses no route delivery. It costs one
 * Redis round trip per insert batch (never the time of a delivery: `enqueue` only appends), and
 * an outbox failure never fails the write — `enqueue` falls back to in-memory delivery.
 *
 * A write that fails is retried by the pipeline as before; only a write that succeeded enqueues,
 * once. (Without an outbox `enqueue` is a synchronous push; `router.follow(pipeline.accepted$)`
 * is then just as good.)
 *
 * ```
 * sink.write:   ----|            (the insert)
 * enqueue:          -|           (XADD per matched route, one pipeline)
 * routed write: -----|           then commit confirms the dedupe claims and settles `accepted`
 * ```
 *
 * @example
 * createPipeline(config, { sink: routedSink(sink, router), store })
 */
export function routedSink(sink: EventSink, router: Pick<Router, 'enqueue'>): EventSink {
  return {
    write(rows: readonly EventRow[]): Observable<void> {
      return concat(defer(() => sink.write(rows)).pipe(ignoreElements()), defer(() => router.enqueue(rows.map((row) => row.event))))
    },
    isRetriable: (error: unknown) => sink.isRetriable(error),
  }
}
