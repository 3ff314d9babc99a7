import { map, throwError, type Observable } from 'rxjs'
import { describe, expect, it } from 'vitest'
import type { CommittedBatch } from '../../src/streams/envelope.js'
import type { AcceptedEvent } from '../../src/streams/event.js'
import { handOff } from '../../src/streams/operators/hand-off.js'
import { envelopes, ids, testScheduler } from './helpers.js'

function committed(make: ReturnType<typeof envelopes>['make'], ...names: string[]): CommittedBatch {
  const batch = names.map((name) => make(name))
  return { envelopes: batch, events: batch.map((envelope) => envelope.event) }
}

describe('handOff', () => {
  it('passes each batch on once the routes have it, and settles nothing itself', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions, flush }) => {
      const { make, settled } = envelopes(() => scheduler.now())
      const append = cold<void>('--|')
      const handed: string[] = []
      const routes = {
        enqueue: (events: readonly AcceptedEvent[]) => (handed.push(ids(events)), append),
      }
      const source = hot('-a---b--|', { a: committed(make, 'a1', 'a2'), b: committed(make, 'b') })
      expectObservable(source.pipe(handOff({ routes, concurrency: 1 }), map(ids))).toBe(
        '---a---b|',
        { a: 'a1,a2', b: 'b' },
      )
      expectSubscriptions(append.subscriptions).toBe(['-^-!', '-----^-!'])
      flush()
      expect(handed).toEqual(['a1,a2', 'b'])
      expect(settled).toEqual([])
    })
  })

  it('hands off at most `concurrency` batches at once', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, cold, expectObservable }) => {
      const { make } = envelopes(() => scheduler.now())
      const routes = { enqueue: () => cold<void>('-----|') }
      const source = hot('-abc', {
        a: committed(make, 'a'),
        b: committed(make, 'b'),
        c: committed(make, 'c'),
      })
      // concurrency 2: a and b together, c once a is through
      expectObservable(source.pipe(handOff({ routes, concurrency: 2 }), map(ids))).toBe(
        '------ab---c',
        { a: 'a', b: 'b', c: 'c' },
      )
    })
  })

  it('reports a hand-off that fails and passes the batch on all the same: it is stored', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const { make } = envelopes(() => scheduler.now())
      const failures: Array<[number, string]> = []
      const routes = { enqueue: (): Observable<void> => throwError(() => new Error('outbox down')) }
      const telemetry = {
        handOffFailed: (events: number, error: unknown) =>
          failures.push([events, (error as Error).message]),
      }
      expectObservable(
        hot('-a-|', { a: committed(make, 'a1', 'a2') }).pipe(
          handOff({ routes, concurrency: 1, telemetry }),
          map(ids),
        ),
      ).toBe('-a-|', { a: 'a1,a2' })
      flush()
      expect(failures).toEqual([[2, 'outbox down']])
    })
  })

  it('stops a hand-off in flight when it is unsubscribed', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const { make } = envelopes(() => scheduler.now())
      const append = cold<void>('-----|')
      const source = hot('-a', { a: committed(make, 'a') })
      expectObservable(
        source.pipe(handOff({ routes: { enqueue: () => append }, concurrency: 1 }), map(ids)),
        '^--!',
      ).toBe('---')
      expectSubscriptions(append.subscriptions).toBe('-^-!')
    })
  })
})
