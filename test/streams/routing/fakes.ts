import { of } from 'rxjs'
import type { AcceptedEvent } from '../../../src/streams/event.js'
import type { OutboxEntry, RouteOutbox } from '../../../src/streams/routing/ports.js'

// The fakes a marble-test author gets from `sluice/testing`, under the names these tests use.
export {
  createFakeDelivery as fakeDelivery,
  type Call,
} from '../../../src/testing/fake-delivery.js'
export { createMemoryDeadLetters as memoryDeadLetters } from '../../../src/testing/memory-dead-letters.js'

export function event(id: string, type = 'page_view'): AcceptedEvent {
  return {
    id,
    type,
    timestamp: 1_764_151_200_123,
    receivedAt: 1_764_151_200_200,
    transport: 'rest',
  }
}

/** An in-memory RouteOutbox with the Redis one's contract (held entries are not read again until released). */
export function memoryOutbox() {
  const queues = new Map<string, Array<OutboxEntry & { held: boolean }>>()
  let seq = 0
  const queue = (route: string) => queues.get(route) ?? (queues.set(route, []), queues.get(route)!)
  const outbox: RouteOutbox & { size(route: string): number; acked: string[] } = {
    acked: [],
    size: (route) => queue(route).length,
    open: (routes) => of(routes.forEach(queue)),
    append: (entries) =>
      of(
        entries.forEach(({ route, events }) =>
          events.forEach((e) => queue(route).push({ receipt: `${++seq}`, event: e, held: false })),
        ),
      ),
    read(route, max) {
      const free = queue(route)
        .filter((entry) => !entry.held)
        .slice(0, max)
      for (const entry of free) entry.held = true
      return of(free.map(({ receipt, event }) => ({ receipt, event })))
    },
    ack(route, receipts) {
      const done = new Set(receipts)
      queues.set(
        route,
        queue(route).filter((entry) => !done.has(entry.receipt)),
      )
      outbox.acked.push(...receipts)
      return of(undefined)
    },
    release(route, receipts) {
      const back = new Set(receipts)
      for (const entry of queue(route)) if (back.has(entry.receipt)) entry.held = false
    },
  }
  return outbox
}
