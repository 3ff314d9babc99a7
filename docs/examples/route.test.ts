import { map } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import {
  createCircuitBreaker,
  deadLetterWriter,
  deliverRoute,
  retriableError,
  route,
  type RouteItem,
} from 'sluice'
import { createFakeDelivery, createMemoryDeadLetters } from 'sluice/testing'
import { expect, it } from 'vitest'

it('batches a route, retries a 503 with backoff, and delivers', () => {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected))
  scheduler.run(({ hot, expectObservable, flush }) => {
    // The downstream answers 503 to the first attempt of every batch; each attempt takes 2 ms.
    const { delivery, calls } = createFakeDelivery(scheduler, (call) => ({
      ms: 2,
      ...(call.attempt === 1 && { error: retriableError('HTTP 503') }),
    }))
    const analytics = route({
      name: 'analytics',
      match: ['page_view'],
      url: 'http://127.0.0.1:9000/hook',
      batchMaxEvents: 2,
      batchMaxWaitMs: 10,
      backoffInitialMs: 4,
    })
    const deliver = deliverRoute(analytics, {
      delivery,
      breaker: createCircuitBreaker({ failureThreshold: 5, coolDownMs: 1000, scheduler }),
      deadLetters: deadLetterWriter({
        store: createMemoryDeadLetters(),
        retry: { initialMs: 10, maxMs: 10, budgetMs: 100 },
        scheduler,
      }),
      newBatchId: () => 'batch-1',
      scheduler,
      random: () => 1, // the whole jitter: the first retry waits exactly backoffInitialMs
    })
    const item = (id: string): RouteItem => ({
      event: { id, type: 'page_view', timestamp: 0, receivedAt: 0, transport: 'ws' },
    })

    const events = hot('-ab------------|', { a: item('a'), b: item('b') })
    // [a, b] fills the batch at 2 ms; attempt 1 fails at 4; waits 4; attempt 2 delivers at 10.
    expectObservable(
      events.pipe(
        deliver,
        map((settled) => `${settled.outcome}:${settled.items.length}`),
      ),
    ).toBe('----------x----|', { x: 'delivered:2' })
    flush()
    expect(calls.map((call) => `${call.batchId}#${call.attempt}@${call.at}`)).toEqual([
      'batch-1#1@2',
      'batch-1#2@8',
    ])
  })
})
