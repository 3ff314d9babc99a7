import { from, map, of, throwError } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { createMemoryDedupeStore } from '../../src/adapters/memory/memory-dedupe-store.js'
import type { Envelope } from '../../src/streams/envelope.js'
import { dedupe } from '../../src/streams/operators/dedupe.js'
import { ACCEPTED, failed } from '../../src/streams/outcome.js'
import type { Claim, ClaimReceipt, DedupeStore } from '../../src/streams/ports.js'
import {
  claimNow,
  confirmNow,
  envelopes as plainEnvelopes,
  ids,
  testScheduler,
  watchableEnvelopes,
} from './helpers.js'

function memoryStore(now: () => number, reservationSeconds = 60) {
  return createMemoryDedupeStore({ ttlSeconds: 3600, reservationSeconds, maxEntries: 1000, now })
}

// Every case twice: envelopes dedupe wraps to hear when they settle, and envelopes it watches as
// they are (the pipeline's own: validate.ts).
describe.each([
  ['envelopes it wraps', plainEnvelopes],
  ['envelopes it watches', watchableEnvelopes],
])('dedupe, %s', (_kind, envelopes) => {
  it('lets the first copy of an id in a batch through and settles the later copies from its outcome', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const { make, settled } = envelopes(() => scheduler.now())
      const a1 = make('a'),
        b = make('b'),
        a2 = make('a'),
        a3 = make('a', 'other content')
      const source = hot('-x-|', { x: [a1, b, a2, a3] })
      let passed: readonly Envelope[] = []
      const result = source.pipe(
        dedupe({ store: memoryStore(() => scheduler.now()), concurrency: 2 }),
        map((batch) => ((passed = batch.envelopes), ids(batch))),
      )
      expectObservable(result).toBe('-x-|', { x: 'a,b' })
      flush()
      expect(settled).toEqual([])
      passed[0]!.settle(ACCEPTED)
      expect(settled).toEqual([
        { id: 'a', status: 'accepted', at: 3 },
        { id: 'a', status: 'duplicate', at: 3 },
        { id: 'a', status: 'duplicate', conflict: true, at: 3 },
      ])
    })
  })

  it('fails the later copies when the first copy fails: never a duplicate of an event that was not stored', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const { make, settled } = envelopes(() => scheduler.now())
      let passed: readonly Envelope[] = []
      const source = hot('-x-|', { x: [make('a'), make('a')] })
      expectObservable(
        source.pipe(
          dedupe({ store: memoryStore(() => scheduler.now()), concurrency: 1 }),
          map((b) => ((passed = b.envelopes), ids(b))),
        ),
      ).toBe('-x-|', { x: 'a' })
      flush()
      passed[0]!.settle(failed('storage down'))
      expect(settled.map((s) => s.status)).toEqual(['failed', 'failed'])
    })
  })

  it('holds back a copy of an id that an earlier batch is still committing', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const { make, settled } = envelopes(() => scheduler.now())
      const batches: Array<readonly Envelope[]> = []
      const source = hot('-x--y-|', { x: [make('a')], y: [make('a'), make('c')] })
      expectObservable(
        source.pipe(
          dedupe({ store: memoryStore(() => scheduler.now()), concurrency: 2 }),
          map((b) => (batches.push(b.envelopes), ids(b))),
        ),
      ).toBe('-x--y-|', { x: 'a', y: 'c' })
      flush()
      batches[0]![0]!.settle(ACCEPTED)
      expect(settled.map((s) => `${s.id}:${s.status}`)).toEqual(['a:accepted', 'a:duplicate'])
    })
  })

  it('settles ids confirmed in an earlier batch as duplicates, with conflict when the content differs', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const store = memoryStore(() => scheduler.now())
      confirmNow(store, [
        { id: 'a', fingerprint: 'fp-a' },
        { id: 'b', fingerprint: 'fp-b' },
      ])
      const { make, settled } = envelopes(() => scheduler.now())
      const source = hot('-x-|', { x: [make('a'), make('b', 'fp-new'), make('c')] })
      expectObservable(source.pipe(dedupe({ store, concurrency: 1 }), map(ids))).toBe('-x-|', {
        x: 'c',
      })
      flush()
      expect(settled).toEqual([
        { id: 'a', status: 'duplicate', at: 1 },
        { id: 'b', status: 'duplicate', conflict: true, at: 1 },
      ])
    })
  })

  it('fails an id reserved by a commit that never came, then accepts the re-send once the reservation expires', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const store = memoryStore(() => scheduler.now(), 0.01) // 10 ms reservations
      // A process that claimed 'a' and died before its commit:
      store.claim([{ id: 'a', fingerprint: 'fp-a' }])
      const { make, settled } = envelopes(() => scheduler.now())
      const source = hot('-x---------y-|', { x: [make('a')], y: [make('a')] })
      expectObservable(source.pipe(dedupe({ store, concurrency: 1 }), map(ids))).toBe(
        '-----------y-|',
        { y: 'a' },
      )
      flush()
      expect(settled).toEqual([{ id: 'a', status: 'failed', at: 1 }])
    })
  })

  it('makes one store round trip per batch', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, flush }) => {
      const inner = memoryStore(() => scheduler.now())
      const calls: number[] = []
      const store: DedupeStore = {
        ...inner,
        claim: (claims) => (calls.push(claims.length), inner.claim(claims)),
      }
      const { make } = envelopes(() => scheduler.now())
      hot('-x-y-|', { x: [make('a'), make('b'), make('c')], y: [make('d'), make('e')] })
        .pipe(dedupe({ store, concurrency: 1 }))
        .subscribe()
      flush()
      expect(calls).toEqual([3, 2])
    })
  })

  it('caps the claims in flight at the concurrency it is given', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, hot, expectObservable }) => {
      // Each claim takes 5 ms; with concurrency 1 the second batch waits for the first.
      const store: DedupeStore = {
        claim: (claims) => cold('-----(s|)', { s: { statuses: claims.map(() => 'new' as const) } }),
        confirm: () => of(undefined),
        release: () => of(undefined),
      }
      const { make } = envelopes(() => scheduler.now())
      const source = hot('-xy-------|', { x: [make('a')], y: [make('b')] })
      expectObservable(source.pipe(dedupe({ store, concurrency: 1 }), map(ids))).toBe(
        '------a----(b|)',
        { a: 'a', b: 'b' },
      )
    })
  })

  it('fails open by default when the store is down, and fails the events when told to reject', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const down: DedupeStore = {
        claim: () => throwError(() => new Error('ECONNREFUSED')),
        confirm: () => of(undefined),
        release: () => of(undefined),
      }
      const { make, settled } = envelopes(() => scheduler.now())
      expectObservable(
        hot('-x-|', { x: [make('a')] }).pipe(dedupe({ store: down, concurrency: 1 }), map(ids)),
      ).toBe('-x-|', { x: 'a' })
      expectObservable(
        hot('-x-|', { x: [make('b')] }).pipe(
          dedupe({ store: down, concurrency: 1, onStoreError: 'reject' }),
          map(ids),
        ),
      ).toBe('---|')
      flush()
      expect(settled).toEqual([{ id: 'b', status: 'failed', at: 1 }])
    })
  })

  it('starts each subscription with no ids on their way: after a restart a re-send is not parked behind a dead first copy', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      const { make } = envelopes(() => scheduler.now())
      // a store that lets every id through: what is left to test is dedupe's own map
      const store: DedupeStore = {
        claim: (claims) => of({ statuses: claims.map(() => 'new' as const) }),
        confirm: () => of(undefined),
        release: () => of(undefined),
      }
      const operator = dedupe({ store, concurrency: 1 })
      // the first chain takes a and dies (unsubscribed at 3) before a settles
      expectObservable(hot('-x-', { x: [make('a')] }).pipe(operator, map(ids)), '^--!').toBe(
        '-x-',
        { x: 'a' },
      )
      // the next chain, built from the same operator, gets the re-send of a: it goes on
      expectObservable(
        hot('-----y-|', { y: [make('a')] }).pipe(operator, map(ids)),
        '----^--',
      ).toBe('-----y-|', { y: 'a' })
    })
  })

  it('releases the reservations of a claim that answers after it was unsubscribed', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, cold, expectObservable, flush }) => {
      const inner = memoryStore(() => scheduler.now())
      const released: Array<readonly string[]> = []
      const store: DedupeStore = {
        // the claim is taken at once but answered 5 ms later, like a round trip
        claim: (claims) => cold('-----(r|)', { r: claimNowReceipt(inner, claims) }),
        confirm: (receipts) => inner.confirm(receipts),
        release: (receipts) => (
          released.push(...receipts.map((r) => r.statuses)),
          inner.release(receipts)
        ),
      }
      const { make } = envelopes(() => scheduler.now())
      expectObservable(
        hot('-x', { x: [make('a')] }).pipe(dedupe({ store, concurrency: 1 }), map(ids)),
        '^--!',
      ).toBe('---')
      flush()
      expect(released).toEqual([['new']])
      expect(claimNow(inner, [{ id: 'a', fingerprint: 'fp-a' }])).toEqual(['new'])
    })
  })
})

function claimNowReceipt(store: DedupeStore, claims: readonly Claim[]): ClaimReceipt {
  let receipt!: ClaimReceipt
  from(store.claim(claims)).subscribe((r) => (receipt = r))
  return receipt
}

describe('dedupe and the envelopes it passes on', () => {
  it('passes an envelope that can be watched on as it is, and wraps one that cannot', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, flush }) => {
      const watchable = watchableEnvelopes(() => scheduler.now()).make('a')
      const plain = plainEnvelopes(() => scheduler.now()).make('b')
      let passed: readonly Envelope[] = []
      hot('-x-|', { x: [watchable, plain] })
        .pipe(dedupe({ store: memoryStore(() => scheduler.now()), concurrency: 1 }))
        .subscribe((batch) => (passed = batch.envelopes))
      flush()
      expect(passed).toHaveLength(2)
      expect(passed[0]).toBe(watchable)
      expect(passed[1]).not.toBe(plain)
      expect(passed[1]!.event.id).toBe('b')
    })
  })
})
