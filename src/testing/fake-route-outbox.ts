import { defer, of } from 'rxjs'
import type { AcceptedEvent } from '../streams/event.js'
import type { OutboxEntry, RouteOutbox } from '../streams/routing/ports.js'

interface Held {
  readonly entry: OutboxEntry
  held: boolean
}

export interface FakeRouteOutbox extends RouteOutbox {
  /** what each route's queue holds, delivered or not, oldest first */
  pending(route: string): AcceptedEvent[]
  /** append calls made, failed ones included */
  appends: number
}

/**
 * A RouteOutbox in memory, for one process: entries wait in each route's queue until acked, a read
 * never hands out an entry already held, and a release lets the next read take it again.
 * `failAppends` makes appends fail while it returns true (Redis down).
 */
export function createFakeRouteOutbox(
  options: { failAppends?: () => boolean } = {},
): FakeRouteOutbox {
  const queues = new Map<string, Held[]>()
  let seq = 0
  const queue = (route: string) => {
    let entries = queues.get(route)
    if (!entries) queues.set(route, (entries = []))
    return entries
  }

  const outbox: FakeRouteOutbox = {
    appends: 0,
    pending: (route) => queue(route).map((held) => held.entry.event),
    open(routes) {
      for (const route of routes) queue(route)
      return of(undefined)
    },
    append(entries) {
      return defer(() => {
        outbox.appends++
        if (options.failAppends?.()) throw new Error('ECONNREFUSED (fake outbox)')
        for (const { route, events } of entries)
          for (const event of events)
            queue(route).push({ entry: { receipt: String(++seq), event }, held: false })
        return of(undefined)
      })
    },
    read(route, max) {
      return defer(() => {
        const taken = queue(route)
          .filter((held) => !held.held)
          .slice(0, max)
        for (const held of taken) held.held = true
        return of(taken.map((held) => held.entry))
      })
    },
    ack(route, receipts) {
      const done = new Set(receipts)
      queues.set(
        route,
        queue(route).filter((held) => !done.has(held.entry.receipt)),
      )
      return of(undefined)
    },
    release(route, receipts) {
      const back = new Set(receipts)
      for (const held of queue(route)) if (back.has(held.entry.receipt)) held.held = false
    },
  }
  return outbox
}
