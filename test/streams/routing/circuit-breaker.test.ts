import { describe, expect, it } from 'vitest'
import { createCircuitBreaker, type Permit } from '../../../src/streams/routing/circuit-breaker.js'
import { deadLetterWriter } from '../../../src/streams/routing/dead-letter-writer.js'
import { deliverRoute } from '../../../src/streams/routing/deliver-route.js'
import { retriableError } from '../../../src/streams/routing/delivery-error.js'
import { route } from '../../../src/streams/routing/route.js'
import { testScheduler } from '../helpers.js'
import { event, fakeDelivery, memoryDeadLetters } from './fakes.js'

function recordingBreaker(
  scheduler: ReturnType<typeof testScheduler>,
  failureThreshold: number,
  coolDownMs: number,
) {
  const changes: string[] = []
  const breaker = createCircuitBreaker({
    failureThreshold,
    coolDownMs,
    scheduler,
    onChange: (state) => changes.push(`${state}@${scheduler.now()}`),
  })
  return { breaker, changes }
}

describe('circuit breaker', () => {
  it('opens after consecutive failures, turns half-open after the cool-down, and closes when the probe succeeds', () => {
    const scheduler = testScheduler()
    scheduler.run(({ expectObservable, time }) => {
      const { breaker } = recordingBreaker(scheduler, 2, time('----------|'))
      const take = (at: number, verdict: 'succeeded' | 'failed') =>
        scheduler.schedule(() => breaker.permit().subscribe((permit) => permit[verdict]()), at)
      take(1, 'failed')
      take(2, 'failed') // opens at 2; half-open at 12
      take(15, 'succeeded') // the probe: closes at 15
      expectObservable(breaker.state$, '^ 20ms !').toBe('c-o---------h--c', {
        c: 'closed',
        o: 'open',
        h: 'half-open',
      })
    })
  })

  it('resets the count of failures on a success while closed', () => {
    const scheduler = testScheduler()
    scheduler.run(({ flush }) => {
      const { breaker, changes } = recordingBreaker(scheduler, 2, 10)
      for (const verdict of ['failed', 'succeeded', 'failed', 'succeeded', 'failed'] as const)
        breaker.permit().subscribe((permit) => permit[verdict]())
      flush()
      expect(changes).toEqual([])
      expect(breaker.state).toBe('closed')
    })
  })

  it('opens again for a whole cool-down when the probe fails', () => {
    const scheduler = testScheduler()
    scheduler.run(({ expectObservable }) => {
      const { breaker } = recordingBreaker(scheduler, 1, 5)
      scheduler.schedule(() => breaker.permit().subscribe((p) => p.failed()), 0) // open at 0, half-open at 5
      scheduler.schedule(() => breaker.permit().subscribe((p) => p.failed()), 6) // the probe fails: open at 6, half-open at 11
      expectObservable(breaker.state$, '^ 12ms !').toBe('o----ho----h', {
        o: 'open',
        h: 'half-open',
      })
    })
  })

  it('lets one probe through in half-open; the others wait for its verdict, or for their turn if it is abandoned', () => {
    const scheduler = testScheduler()
    scheduler.run(({ flush }) => {
      const { breaker } = recordingBreaker(scheduler, 1, 10)
      breaker.permit().subscribe((p) => p.failed()) // open at 0
      const granted: Array<[string, number, Permit]> = []
      for (const name of ['a', 'b', 'c'])
        scheduler.schedule(
          () => breaker.permit().subscribe((p) => granted.push([name, scheduler.now(), p])),
          1,
        )
      scheduler.schedule(() => granted[0]![2].abandoned(), 12) // a gives up its probe: b takes it
      scheduler.schedule(() => granted[1]![2].succeeded(), 14) // b's probe succeeds: c goes
      flush()
      expect(granted.map(([name, at]) => `${name}@${at}`)).toEqual(['a@10', 'b@12', 'c@14'])
      expect(breaker.state).toBe('closed')
    })
  })

  it('holds a route’s attempts while open, probes once after the cool-down, and lets the rest go when it closes', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, flush }) => {
      // The destination fails until 50 ms; three batches in flight fail together at 1 ms and open the breaker.
      const { delivery, calls } = fakeDelivery(scheduler, (call) => ({
        ms: 1,
        error: call.at < 50 ? retriableError('HTTP 502') : undefined,
      }))
      const { breaker, changes } = recordingBreaker(scheduler, 3, 100)
      const store = memoryDeadLetters()
      const r = route({
        name: 'r',
        match: ['*'],
        url: 'http://127.0.0.1:1/',
        batchMaxEvents: 1,
        concurrency: 3,
        maxAttempts: 8,
        backoffInitialMs: 10,
      })
      const deadLetters = deadLetterWriter({
        store,
        retry: { initialMs: 1, maxMs: 1, budgetMs: 1 },
        scheduler,
      })
      hot('(abc)|', {
        a: { event: event('a') },
        b: { event: event('b') },
        c: { event: event('c') },
      })
        .pipe(
          deliverRoute(r, {
            delivery,
            breaker,
            deadLetters,
            newBatchId: () => 'id',
            scheduler,
            random: () => 1,
          }),
        )
        .subscribe()
      flush()
      expect(changes).toEqual(['open@1', 'half-open@101', 'closed@102'])
      // Retries asked at 11 ms and waited: a probed at 101, b and c went once it closed.
      expect(calls.map((c) => `${c.ids}@${c.at}`)).toEqual([
        'a@0',
        'b@0',
        'c@0',
        'a@101',
        'b@102',
        'c@102',
      ])
      expect(store.rows).toEqual([])
    })
  })

  it('does not use up attempts while the breaker holds them', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, flush }) => {
      // Down until 1000 ms; maxAttempts 3 with waits of 10 and 20 ms would run out at 31 ms without the breaker.
      const { delivery, calls } = fakeDelivery(scheduler, (call) => ({
        error: call.at < 1000 ? retriableError('ECONNREFUSED') : undefined,
      }))
      const { breaker } = recordingBreaker(scheduler, 1, 600)
      const store = memoryDeadLetters()
      const r = route({
        name: 'r',
        match: ['*'],
        url: 'http://127.0.0.1:1/',
        batchMaxEvents: 1,
        maxAttempts: 3,
        backoffInitialMs: 10,
      })
      const deadLetters = deadLetterWriter({
        store,
        retry: { initialMs: 1, maxMs: 1, budgetMs: 1 },
        scheduler,
      })
      hot('a|', { a: { event: event('a') } })
        .pipe(
          deliverRoute(r, {
            delivery,
            breaker,
            deadLetters,
            newBatchId: () => 'id',
            scheduler,
            random: () => 1,
          }),
        )
        .subscribe()
      flush()
      // open at 0 → probe at 600 fails → probe at 1200 succeeds: three attempts, delivered.
      expect(calls.map((c) => c.at)).toEqual([0, 600, 1200])
      expect(store.rows).toEqual([])
    })
  })
})
