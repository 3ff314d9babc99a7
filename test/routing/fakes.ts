import { defer, map, of, timer, type SchedulerLike } from 'rxjs'
import type { AcceptedEvent } from '../../src/streams/event.js'
import type { DeadLetter, DeadLetterStore, Delivery, DeliveryBatch, OutboxEntry, RouteOutbox, StoredDeadLetter } from '../../src/streams/routing/ports.js'
import type { Route } from '../../src/streams/routing/route.js'

export function event(id: string, type = 'page_view'): AcceptedEvent {
  return { id, type, timestamp: 1_764_151_200_123, receivedAt: 1_764_151_200_200, transport: 'rest' }
}

export interface Call {
  readonly at: number
  readonly route: string
  readonly batchId: string
  readonly ids: string
  /** 1-based, per batch */
  readonly attempt: number
}

/** A Delivery on the scheduler's clock: `behave` says how long each attempt takes and how it fails. */
export function fakeDelivery(scheduler: SchedulerLike, behave: (call: Call) => { ms?: number; error?: unknown } | undefined = () => undefined) {
  const calls: Call[] = []
  const delivered: Array<Call & { readonly doneAt: number }> = []
  const delivery: Delivery = {
    send(route: Route, batch: DeliveryBatch) {
      return defer(() => {
        const call: Call = {
          at: scheduler.now(),
          route: route.name,
          batchId: batch.id,
          ids: batch.events.map((e) => e.id).join(','),
          attempt: calls.filter((c) => c.batchId === batch.id).length + 1,
        }
        calls.push(call)
        const { ms = 0, error } = behave(call) ?? {}
        return timer(ms, scheduler).pipe(
          map(() => {
            if (error !== undefined) throw error
            delivered.push({ ...call, doneAt: scheduler.now() })
          }),
        )
      })
    },
  }
  return { delivery, calls, delivered }
}

/** An in-memory DeadLetterStore; `failWrites` makes writes fail (retriable) while it returns true. */
export function memoryDeadLetters(options: { failWrites?: () => boolean } = {}) {
  const rows: StoredDeadLetter[] = []
  let seq = 0
  const inRange = (letter: DeadLetter, route: string, sinceMs = 0, untilMs = Infinity) => letter.route === route && letter.time >= sinceMs && letter.time <= untilMs
  const store: DeadLetterStore & { rows: StoredDeadLetter[]; writes: number } = {
    rows,
    writes: 0,
    write(letters) {
      return defer(() => {
        store.writes++
        if (options.failWrites?.()) throw new Error('ECONNREFUSED')
        for (const letter of letters) rows.push({ ...letter, key: `${String(letter.time).padStart(15, '0')}:${String(++seq).padStart(9, '0')}` })
        return of(undefined)
      })
    },
    isRetriable: () => true,
    list: ({ route, sinceMs = 0, limit }) => of(rows.filter((r) => (route === undefined || r.route === route) && r.time >= sinceMs).reverse().slice(0, limit)),
    page: ({ route, sinceMs, untilMs, error }, limit, after) =>
      of(rows.filter((r) => inRange(r, route, sinceMs, untilMs) && (error === undefined || r.error === error) && (after === undefined || r.key > after)).sort((a, b) => (a.key < b.key ? -1 : 1)).slice(0, limit)),
    remove(route, keys) {
      const gone = new Set(keys)
      for (let i = rows.length - 1; i >= 0; i--) if (rows[i]!.route === route && gone.has(rows[i]!.key)) rows.splice(i, 1)
      return of(undefined)
    },
  }
  return store
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
    append: (entries) => of(entries.forEach(({ route, events }) => events.forEach((e) => queue(route).push({ receipt: `${++seq}`, event: e, held: false })))),
    read(route, max) {
      const free = queue(route).filter((entry) => !entry.held).slice(0, max)
      for (const entry of free) entry.held = true
      return of(free.map(({ receipt, event }) => ({ receipt, event })))
    },
    ack(route, receipts) {
      const done = new Set(receipts)
      queues.set(route, queue(route).filter((entry) => !done.has(entry.receipt)))
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
