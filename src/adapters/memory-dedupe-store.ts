import { of } from 'rxjs'
import type { Claim, ClaimStatus, DedupeStore } from '../streams/ports.js'

export interface MemoryDedupeStoreOptions {
  /** how long a confirmed id stays a duplicate (DEDUPE_TTL_SECONDS) */
  readonly ttlSeconds: number
  /** how long a claim stays reserved if its commit never confirms or releases it */
  readonly reservationSeconds: number
  /** the most ids kept; past it the oldest are forgotten first */
  readonly maxEntries: number
  /** the clock, in epoch ms: `() => scheduler.now()` in marble tests */
  readonly now?: () => number
}

interface Entry {
  /** undefined: re-learned from storage at start, content unknown (any fingerprint is a plain duplicate) */
  readonly fingerprint: string | undefined
  readonly committed: boolean
  readonly expiresAt: number
}

/**
 * The in-process dedupe store: the same two-phase claims as the Redis store, for one process.
 * Bounded by entry count (oldest evicted first) and by time (entries expire).
 */
export interface MemoryDedupeStore extends DedupeStore {
  readonly size: number
  /**
   * Marks ids committed before this process started (read back from storage), oldest first, each
   * until its own receive time + the TTL; their content is unknown, so a re-send is a plain duplicate.
   */
  remember(committed: Iterable<{ readonly id: string; readonly receivedAt: number }>): void
}

export function createMemoryDedupeStore(options: MemoryDedupeStoreOptions): MemoryDedupeStore {
  const { ttlSeconds, reservationSeconds, maxEntries, now = Date.now } = options
  // A Map iterates in insertion order, and every write re-inserts, so the first key is the oldest.
  const entries = new Map<string, Entry>()

  function put(id: string, entry: Entry): void {
    entries.delete(id)
    entries.set(id, entry)
    while (entries.size > maxEntries) entries.delete(entries.keys().next().value!)
  }

  function live(id: string, at: number): Entry | undefined {
    const entry = entries.get(id)
    if (entry && entry.expiresAt <= at) {
      entries.delete(id)
      return undefined
    }
    return entry
  }

  /** Forgets expired entries at the old end, so that idle memory does not wait for eviction by count. */
  function sweep(at: number): void {
    for (const [id, entry] of entries) {
      if (entry.expiresAt > at) return
      entries.delete(id)
    }
  }

  return {
    claim(claims: readonly Claim[]) {
      const at = now()
      sweep(at)
      const statuses = claims.map(({ id, fingerprint }): ClaimStatus => {
        const entry = live(id, at)
        if (!entry) {
          put(id, { fingerprint, committed: false, expiresAt: at + reservationSeconds * 1000 })
          return 'new'
        }
        if (!entry.committed) return 'pending'
        return entry.fingerprint === undefined || entry.fingerprint === fingerprint ? 'duplicate' : 'conflict'
      })
      return of(statuses)
    },
    confirm(claims: readonly Claim[]) {
      const expiresAt = now() + ttlSeconds * 1000
      for (const { id, fingerprint } of claims) put(id, { fingerprint, committed: true, expiresAt })
      return of(undefined)
    },
    release(claims: readonly Claim[]) {
      const at = now()
      for (const { id, fingerprint } of claims) {
        const entry = live(id, at)
        if (entry && !entry.committed && entry.fingerprint === fingerprint) entries.delete(id)
      }
      return of(undefined)
    },
    remember(committed) {
      const at = now()
      for (const { id, receivedAt } of committed) {
        const expiresAt = receivedAt + ttlSeconds * 1000
        if (expiresAt > at) put(id, { fingerprint: undefined, committed: true, expiresAt })
      }
    },
    get size() {
      return entries.size
    },
  }
}
