import { map } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { createCircuitBreaker } from '../../../src/streams/routing/circuit-breaker.js'
import {
  deadLetterWriter,
  type RouteItem,
  type SettledBatch,
} from '../../../src/streams/routing/dead-letter-writer.js'
import { deliverRoute } from '../../../src/streams/routing/deliver-route.js'
import { finalError, retriableError } from '../../../src/streams/routing/delivery-error.js'
import { route, type Route } from '../../../src/streams/routing/route.js'
import { testScheduler } from '../helpers.js'
import { event, fakeDelivery, memoryDeadLetters, type Call } from './fakes.js'

type Behave = (call: Call) => { ms?: number; error?: unknown } | undefined

function setup(
  scheduler: ReturnType<typeof testScheduler>,
  fields: Partial<Route>,
  behave: Behave = () => undefined,
  random = () => 1,
) {
  const { delivery, calls, delivered } = fakeDelivery(scheduler, behave)
  const store = memoryDeadLetters()
  const breaker = createCircuitBreaker({ failureThreshold: 1000, coolDownMs: 1000, scheduler })
  let batches = 0
  const operator = deliverRoute(
    route({
      name: 'r',
      match: ['*'],
      url: 'http://127.0.0.1:1/hook',
      batchMaxEvents: 1,
      ...fields,
    }),
    {
      delivery,
      breaker,
      deadLetters: deadLetterWriter({
        store,
        retry: { initialMs: 10, maxMs: 10, budgetMs: 100, random },
        scheduler,
      }),
      newBatchId: () => `b${++batches}`,
      scheduler,
      random,
    },
  )
  return { operator, calls, delivered, store }
}

const items = (ids: string) =>
  Object.fromEntries([...ids].map((id): [string, RouteItem] => [id, { event: event(id) }]))
const summary = ({ items: settled, outcome }: SettledBatch) =>
  `${outcome}:${settled.map((item) => item.event.id).join('')}`

describe('deliverRoute', () => {
  it('batches by count, and by time for what is left', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const { operator, calls } = setup(scheduler, { batchMaxEvents: 3, batchMaxWaitMs: 5 })
      // [a,b,c] fills at 3 ms; d waits for the time window opened at 3 ms to end (8 ms); e for the next one.
      expectObservable(hot('-abcd-------e----|', items('abcde')).pipe(operator, map(summary))).toBe(
        '---x----y----z---|',
        { x: 'delivered:abc', y: 'delivered:d', z: 'delivered:e' },
      )
      flush()
      expect(calls.map((c) => `${c.ids}@${c.at}`)).toEqual(['a,b,c@3', 'd@8', 'e@13'])
    })
  })

  it('runs the JSDoc example: a full batch goes at once, the rest when the source completes, one at a time', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      const { operator } = setup(
        scheduler,
        { batchMaxEvents: 2, batchMaxWaitMs: 1000, concurrency: 1 },
        () => ({ ms: 5 }),
      )
      expectObservable(hot('-ab-c-------|', items('abc')).pipe(operator, map(summary))).toBe(
        '-------x----- 4ms (y|)',
        { x: 'delivered:ab', y: 'delivered:c' },
      )
    })
  })

  it('never has more batches in flight than the route concurrency', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, flush }) => {
      const { operator, calls, delivered } = setup(scheduler, { concurrency: 2 }, () => ({
        ms: 10,
      }))
      hot('-(abcde)|', items('abcde')).pipe(operator).subscribe()
      flush()
      expect(calls.map((c) => `${c.ids}@${c.at}`)).toEqual(['a@1', 'b@1', 'c@11', 'd@11', 'e@21'])
      expect(delivered.map((c) => c.doneAt)).toEqual([11, 11, 21, 21, 31])
      const inFlight = (t: number) => calls.filter((c) => c.at <= t && t < c.at + 10).length
      expect(Math.max(...Array.from({ length: 40 }, (_, t) => inFlight(t)))).toBe(2)
    })
  })

  it('retries a failing batch after exponential backoff, with the same batch id, and delivers it', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      // random () => 1: the waits are the full ceilings 10, 20, 40.
      const { operator, calls } = setup(
        scheduler,
        { maxAttempts: 8, backoffInitialMs: 10, backoffMaxMs: 1000 },
        (call) =>
          call.attempt <= 3
            ? { ms: 1, error: retriableError('HTTP 503', { status: 503 }) }
            : { ms: 1 },
      )
      expectObservable(hot('-a|', items('a')).pipe(operator, map(summary))).toBe(
        '- 1ms 10ms 1ms 20ms 1ms 40ms 1ms (x|)',
        { x: 'delivered:a' },
      )
      flush()
      expect(calls.map((c) => `${c.batchId}#${c.attempt}@${c.at}`)).toEqual([
        'b1#1@1',
        'b1#2@12',
        'b1#3@33',
        'b1#4@74',
      ])
    })
  })

  it('jitters each wait between half and all of its ceiling, capped by backoffMaxMs', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, flush }) => {
      // random () => 0: half ceilings 5, 10, 15 (the ceiling stops at 30).
      const { operator, calls } = setup(
        scheduler,
        { maxAttempts: 4, backoffInitialMs: 10, backoffMaxMs: 30 },
        () => ({ error: retriableError('socket hang up') }),
        () => 0,
      )
      hot('a|', items('a')).pipe(operator).subscribe()
      flush()
      expect(calls.map((c) => c.at)).toEqual([0, 5, 15, 30])
    })
  })

  it('sends a batch the destination refuses with a 4xx to dead letters at once, without retrying', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const { operator, calls, store } = setup(scheduler, {}, () => ({
        ms: 2,
        error: finalError('HTTP 400: bad event', { status: 400 }),
      }))
      expectObservable(hot('-a|', items('a')).pipe(operator, map(summary))).toBe('---(x|)', {
        x: 'dead-lettered:a',
      })
      flush()
      expect(calls).toHaveLength(1)
      expect(
        store.rows.map(({ route: r, event: e, error, attempts, time }) => ({
          r,
          id: e.id,
          error,
          attempts,
          time,
        })),
      ).toEqual([{ r: 'r', id: 'a', error: 'HTTP 400: bad event', attempts: 1, time: 3 }])
    })
  })

  it('waits the Retry-After of a 429 rather than its own backoff', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const { operator, calls } = setup(scheduler, { backoffInitialMs: 10 }, (call) =>
        call.attempt === 1
          ? { ms: 1, error: retriableError('HTTP 429', { status: 429, retryAfterMs: 3000 }) }
          : { ms: 1 },
      )
      expectObservable(hot('-a|', items('a')).pipe(operator, map(summary))).toBe(
        '-- 3000ms -(x|)',
        { x: 'delivered:a' },
      )
      flush()
      expect(calls.map((c) => c.at)).toEqual([1, 3002])
    })
  })

  it('writes a batch to dead letters with its last error once every attempt has failed', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const { operator, calls, store } = setup(
        scheduler,
        { maxAttempts: 3, backoffInitialMs: 10 },
        (call) => ({ ms: 1, error: retriableError(`HTTP 50${call.attempt}`) }),
      )
      expectObservable(hot('-a|', items('a')).pipe(operator, map(summary))).toBe(
        '- 1ms 10ms 1ms 20ms 1ms (x|)',
        { x: 'dead-lettered:a' },
      )
      flush()
      expect(calls).toHaveLength(3)
      expect(store.rows.map((r) => [r.error, r.attempts])).toEqual([['HTTP 503', 3]])
    })
  })

  it('times an attempt out after timeoutMs and retries it', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const { operator, calls } = setup(
        scheduler,
        { timeoutMs: 50, backoffInitialMs: 10 },
        (call) => ({ ms: call.attempt === 1 ? 100 : 1 }),
      )
      expectObservable(hot('-a|', items('a')).pipe(operator, map(summary))).toBe(
        '- 50ms 10ms 1ms (x|)',
        { x: 'delivered:a' },
      )
      flush()
      expect(calls.map((c) => c.at)).toEqual([1, 61])
    })
  })

  it('gives each batch its own id', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, flush }) => {
      const { operator, calls } = setup(scheduler, { batchMaxEvents: 2 })
      hot('-abcd|', items('abcd')).pipe(operator).subscribe()
      flush()
      expect(calls.map((c) => `${c.batchId}:${c.ids}`)).toEqual(['b1:a,b', 'b2:c,d'])
    })
  })

  it('settles a batch as unsettled when dead letters cannot be written either, and goes on', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      const { operator, store } = setup(scheduler, { maxAttempts: 1 }, (call) =>
        call.ids === 'a' ? { error: finalError('HTTP 404') } : undefined,
      )
      store.write = () => {
        throw new Error('Code: 60. Table default.dead_letters does not exist')
      }
      store.isRetriable = () => false
      expectObservable(hot('-a-b|', items('ab')).pipe(operator, map(summary))).toBe('-x-y|', {
        x: 'unsettled:a',
        y: 'delivered:b',
      })
    })
  })
})
