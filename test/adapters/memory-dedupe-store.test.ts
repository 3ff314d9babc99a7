import { createMemoryDedupeStore } from '../../src/adapters/memory-dedupe-store.js'
import { dedupeStoreContract } from '../contracts/dedupe-store.contract.js'

// An injected clock: expiry is tested without waiting.
dedupeStoreContract('memory dedupe store', ({ ttlSeconds, reservationSeconds }) => {
  let now = Date.UTC(2026, 10, 26)
  const store = createMemoryDedupeStore({ ttlSeconds, reservationSeconds, maxEntries: 100_000, now: () => now })
  return {
    store,
    async elapse(ms) {
      now += ms
    },
  }
})
