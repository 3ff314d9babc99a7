import { defer, map, timer, type SchedulerLike } from 'rxjs'
import type { Delivery, DeliveryBatch } from '../streams/routing/ports.js'
import type { Route } from '../streams/routing/route.js'

export interface Call {
  readonly at: number
  readonly route: string
  readonly batchId: string
  readonly ids: string
  /** 1-based, per batch */
  readonly attempt: number
}

/** A Delivery on the scheduler's clock: `behave` says how long each attempt takes and how it fails. */
export function createFakeDelivery(
  scheduler: SchedulerLike,
  behave: (call: Call) => { ms?: number; error?: unknown } | undefined = () => undefined,
) {
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
            // eslint-disable-next-line @typescript-eslint/only-throw-error -- a fake fails with whatever the test gives it
            if (error !== undefined) throw error
            delivered.push({ ...call, doneAt: scheduler.now() })
          }),
        )
      })
    },
  }
  return { delivery, calls, delivered }
}
