import { from, lastValueFrom } from 'rxjs'
import { describe, expect, it, vi } from 'vitest'
import { createMemoryDedupeStore } from '../../../src/adapters/memory/memory-dedupe-store.js'
import type { ClaimReceipt } from '../../../src/streams/ports.js'
import { dedupeStoreContract } from '../../contracts/dedupe-store.contract.js'

// An injected clock: expiry is tested without waiting.
dedupeStoreContract('memory dedupe store', ({ ttlSeconds, reservationSeconds }) => {
  let now = Date.UTC(2026, 10, 26)
  const create = () =>
    createMemoryDedupeStore({ ttlSeconds, reservationSeconds, maxEntries: 100_000, now: () => now })
  const store = create()
  return {
    store,
    peer: store,
    // The store dies with its process: the restarted process holds no reservation of the dead one.
    kill: async () => create(),
    async elapse(ms) {
      now += ms
    },
  }
})

describe('memory dedupe store, beyond the contract', () => {
  const statuses = (store: ReturnType<typeof createMemoryDedupeStore>, ids: string[]) => {
    let out: readonly string[] = []
    from(store.claim(ids.map((id) => ({ id, fingerprint: `fp-${id}` })))).subscribe(
      (receipt) => (out = receipt.statuses),
    )
    return out
  }

  it('keeps at most maxEntries ids, forgetting the oldest first', () => {
    const store = createMemoryDedupeStore({
      ttlSeconds: 3600,
      reservationSeconds: 60,
      maxEntries: 3,
    })
    store.remember(['a', 'b', 'c', 'd'].map((id) => ({ id, receivedAt: Date.now() })))
    expect(store.size).toBe(3)
    // a was the oldest: it is new again; claiming it evicted b, the next oldest.
    expect(statuses(store, ['a'])).toEqual(['new'])
    expect(statuses(store, ['c', 'd', 'b'])).toEqual(['duplicate', 'duplicate', 'new'])
  })

  it('remembers ids committed before it started, until their receive time plus the TTL, as plain duplicates', () => {
    let now = 1_000_000
    const store = createMemoryDedupeStore({
      ttlSeconds: 10,
      reservationSeconds: 5,
      maxEntries: 100,
      now: () => now,
    })
    store.remember([
      { id: 'old', receivedAt: now - 11_000 }, // already out of the window
      { id: 'recent', receivedAt: now - 2_000 },
    ])
    expect(store.size).toBe(1)
    expect(statuses(store, ['recent', 'old'])).toEqual(['duplicate', 'new'])
    now += 8_001
    expect(statuses(store, ['recent'])).toEqual(['new'])
  })

  describe('expiry of confirmed ids', () => {
    let now = 1_000_000
    const store = () =>
      createMemoryDedupeStore({
        ttlSeconds: 10,
        reservationSeconds: 5,
        maxEntries: 100,
        now: () => now,
      })
    const claimed = (s: ReturnType<typeof store>, id: string) => {
      let receipt!: ClaimReceipt
      from(s.claim([{ id, fingerprint: `fp-${id}` }])).subscribe((r) => (receipt = r))
      return receipt
    }
    const confirm = (s: ReturnType<typeof store>, receipt: ClaimReceipt) =>
      from(s.confirm([receipt])).subscribe()

    it('forgets each confirmed batch once its own TTL has passed, oldest first', () => {
      now = 1_000_000
      const s = store()
      confirm(s, claimed(s, 'a'))
      now += 3_000
      confirm(s, claimed(s, 'b'))
      now += 7_000 // 10 s after a
      expect(statuses(s, ['a', 'b'])).toEqual(['new', 'duplicate'])
      now += 3_000 // 10 s after b
      expect(statuses(s, ['b'])).toEqual(['new'])
    })

    it('keeps the first expiry of an id confirmed twice (a reservation that outlived its window, taken again)', () => {
      now = 1_000_000
      const s = store()
      const first = claimed(s, 'x')
      now += 6_000 // past the reservation window: a second claim takes the id
      const second = claimed(s, 'x')
      expect(second.statuses).toEqual(['new'])
      confirm(s, first)
      now += 3_000
      confirm(s, second)
      expect(s.size).toBe(1)
      now += 7_000 // 10 s after the first confirm
      expect(statuses(s, ['x'])).toEqual(['new'])
    })
  })

  describe('ids from before the start, sent again, when it can read their content back', () => {
    const claim = (
      store: ReturnType<typeof createMemoryDedupeStore>,
      claims: Array<[string, string]>,
    ) =>
      lastValueFrom(
        from(store.claim(claims.map(([id, fingerprint]) => ({ id, fingerprint })))),
      ).then((receipt) => receipt.statuses)
    const remembering = (
      storedFingerprints: (ids: readonly string[]) => Promise<ReadonlyMap<string, string>>,
    ) => {
      const store = createMemoryDedupeStore({
        ttlSeconds: 3600,
        reservationSeconds: 60,
        maxEntries: 100,
        storedFingerprints,
      })
      store.remember(['a', 'b', 'gone'].map((id) => ({ id, receivedAt: Date.now() })))
      return store
    }

    it('tells a retry (duplicate) from other content (conflict), reading storage once per id', async () => {
      const asked: string[][] = []
      const store = remembering(
        async (ids) => (
          asked.push([...ids]),
          new Map([
            ['a', 'fp-a'],
            ['b', 'fp-b'],
          ])
        ),
      )
      expect(
        await claim(store, [
          ['a', 'fp-a'],
          ['b', 'fp-other'],
          ['gone', 'fp-x'],
          ['fresh', 'fp-f'],
        ]),
      ).toEqual(['duplicate', 'conflict', 'duplicate', 'new'])
      expect(asked).toEqual([['a', 'b', 'gone']])
      // Learned now: no second read. `gone` is not in storage, so it stays a plain duplicate, read again.
      expect(
        await claim(store, [
          ['a', 'fp-other'],
          ['b', 'fp-b'],
        ]),
      ).toEqual(['conflict', 'duplicate'])
      expect(asked).toHaveLength(1)
    })

    it('answers a plain duplicate when storage cannot be read, or does not answer within 2 s', async () => {
      expect(
        await claim(
          remembering(() => Promise.reject(new Error('storage down'))),
          [['a', 'fp-other']],
        ),
      ).toEqual(['duplicate'])
      vi.useFakeTimers()
      try {
        const answer = claim(
          remembering(() => new Promise(() => {})),
          [['a', 'fp-other']],
        )
        await vi.advanceTimersByTimeAsync(2000)
        expect(await answer).toEqual(['duplicate'])
      } finally {
        vi.useRealTimers()
      }
    })
  })
})
