import {
  asyncScheduler,
  defer,
  interval,
  merge,
  Observable,
  of,
  Subscription,
  type SchedulerLike,
} from 'rxjs'
import type { OutboxEntry, RouteOutbox } from './ports.js'

export interface OutboxPumpOptions {
  readonly outbox: RouteOutbox
  readonly route: string
  /** how many more entries the route may hold now (its bounded queue); nothing is read at 0 */
  readonly room: () => number
  /** entries asked for per read */
  readonly pageSize: number
  /** nudges: an append to this route, or room freed by a settled batch */
  readonly wake$: Observable<unknown>
  /** idle reads, for entries other instances appended and entries crashed instances left */
  readonly pollMs: number
  readonly scheduler?: SchedulerLike
  readonly onError?: (error: unknown) => void
}

/**
 * Pulls a route's entries from the outbox, never more than the route has room for, so that a slow
 * route's backlog waits in the outbox (durable, shared) rather than in memory. Reads on a nudge,
 * on every poll tick, and again at once while reads come back full or nudges came during a read;
 * one read at a time. A failed read is reported and tried again at the next nudge or tick.
 *
 * ```
 * room 3, pageSize 2, the outbox holds a b c d; nudge at 0
 * pump: (x y)        x = [a,b], y = [c]; d waits until a settle frees room and nudges
 * ```
 *
 * @example
 * pumpOutbox({ outbox, route: 'analytics', room: () => max - held, pageSize: 100, wake$, pollMs: 1000 })
 */
export function pumpOutbox(options: OutboxPumpOptions): Observable<OutboxEntry[]> {
  const {
    outbox,
    route,
    room,
    pageSize,
    wake$,
    pollMs,
    scheduler = asyncScheduler,
    onError,
  } = options
  return new Observable<OutboxEntry[]>((subscriber) => {
    const reads = new Subscription()
    // A flag, not the read's Subscription: a read that completes synchronously (a fake, a cache)
    // would finish before `subscribe` returned, and assigning its Subscription afterwards would
    // leave the pump believing a read is still going on.
    let busy = false
    let again = false

    function read(): void {
      if (busy) {
        again = true
        return
      }
      const max = Math.min(room(), pageSize)
      if (max <= 0) return
      busy = true
      again = false
      let got = 0
      reads.add(
        defer(() => outbox.read(route, max)).subscribe({
          next(entries) {
            got += entries.length
            if (entries.length > 0) subscriber.next(entries)
          },
          error(error: unknown) {
            busy = false
            onError?.(error)
          },
          complete() {
            busy = false
            if (again || got >= max) read()
          },
        }),
      )
    }

    const ticks = merge(of(0), wake$, interval(pollMs, scheduler)).subscribe(() => read())
    return () => {
      ticks.unsubscribe()
      reads.unsubscribe()
    }
  })
}
