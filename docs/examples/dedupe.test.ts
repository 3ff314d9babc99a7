import { concatMap, from, map } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { ACCEPTED, dedupe, type Envelope, type Outcome } from 'sluice'
import { createMemoryDedupeStore } from 'sluice/testing'
import { expect, it } from 'vitest'

it('drops in-batch repeats, claims the rest in one round trip, and settles what it drops', () => {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected))
  scheduler.run(({ hot, expectObservable, flush }) => {
    // The in-process store is the real adapter; its clock is the scheduler's.
    const store = createMemoryDedupeStore({
      ttlSeconds: 3600,
      reservationSeconds: 30,
      maxEntries: 1000,
      now: () => scheduler.now(),
    })
    // b was stored by an earlier batch: claimed, then confirmed with the store's receipt
    from(store.claim([{ id: 'b', fingerprint: 'fp-b' }]))
      .pipe(concatMap((receipt) => store.confirm([receipt])))
      .subscribe()

    const settled: string[] = []
    const envelope = (id: string): Envelope => ({
      event: { id, type: 'page_view', timestamp: 0, receivedAt: 0, transport: 'ws' },
      fingerprint: `fp-${id}`,
      settle: (outcome: Outcome) => settled.push(`${id}:${outcome.status}`),
    })

    const batches = hot('-x-|', { x: [envelope('a'), envelope('b'), envelope('a')] })
    const passed: Array<readonly Envelope[]> = []
    const fresh = batches.pipe(
      dedupe({ store, concurrency: 1 }),
      map(({ envelopes }) => (passed.push(envelopes), envelopes.map((e) => e.event.id).join(','))),
    )
    expectObservable(fresh).toBe('-x-|', { x: 'a' })
    flush()

    // b settled at once; the second a waits for the first a, then follows its outcome.
    expect(settled).toEqual(['b:duplicate'])
    passed[0]![0]!.settle(ACCEPTED)
    expect(settled).toEqual(['b:duplicate', 'a:accepted', 'a:duplicate'])
  })
})
