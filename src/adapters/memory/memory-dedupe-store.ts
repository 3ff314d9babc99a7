import { defer, of } from 'rxjs'
import type { Claim, ClaimReceipt, ClaimStatus, DedupeStore } from '../../streams/ports.js'

export interface MemoryDedupeStoreOptions {
  /** how long a confirmed id stays a duplicate (DEDUPE_TTL_SECONDS) */
  readonly ttlSeconds: number
  /** how long a claim stays reserved if its commit never confirms or releases it */
  readonly reservationSeconds: number
  /** the most ids kept; past it the oldest are forgotten first */
  readonly maxEntries: number
  /** the clock, in epoch ms: `() => scheduler.now()` in marble tests */
  readonly now?: () => number
  /**
   * The fingerprints of ids committed before this process started, read back from storage when a
   * claim meets one of them (an id missing from the answer, or a read that fails or takes over 2 s,
   * is a plain duplicate).
   * Absent: a re-send of such an id is always a plain duplicate, its content unknown.
   */
  readonly storedFingerprints?: (ids: readonly string[]) => Promise<ReadonlyMap<string, string>>
}

interface Entry {
  /** undefined: re-learned from storage at start, content not read yet (see storedFingerprints) */
  readonly fingerprint: string | undefined
  readonly committed: boolean
  readonly expiresAt: number
}

/** A claim batch's answer, with the very entries it reserved: release frees those and no later one. */
class MemoryReceipt implements ClaimReceipt {
  /** set by the first confirm or release: a receipt is handed back once */
  spent = false

  constructor(
    readonly statuses: ClaimStatus[],
    readonly reserved: ReadonlyArray<readonly [string, Entry]>,
  ) {}
}

/** The receipts of this store not yet handed back; others' (and spent ones) are ignored. */
function unspent(receipts: readonly ClaimReceipt[]): MemoryReceipt[] {
  const out: MemoryReceipt[] = []
  for (const receipt of receipts) {
    if (!(receipt instanceof MemoryReceipt) || receipt.spent) continue
    receipt.spent = true
    out.push(receipt)
  }
  return out
}

/**
 * The in-process dedupe store: the same two-phase claims as the Redis store, for one process.
 * Bounded by entry count (oldest evicted first) and by time (entries expire).
 */
export interface MemoryDedupeStore extends DedupeStore {
  readonly size: number
  /**
   * Marks ids committed before this process started (read back from storage), oldest first, each
   * until its own receive time + the TTL. Their content is read only if one is sent again.
   */
  remember(committed: Iterable<{ readonly id: string; readonly receivedAt: number }>): void
}

/** How long a re-send waits for storage to say what its id held; then (storage slow or down) it is a plain duplicate. */
const STORED_READ_TIMEOUT_MS = 2000

function readWithin(
  ms: number,
  read: Promise<ReadonlyMap<string, string>>,
): Promise<ReadonlyMap<string, string>> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<ReadonlyMap<string, string>>(
    (resolve) => (timer = setTimeout(resolve, ms, new Map())),
  )
  return Promise.race([read.catch(() => new Map<string, string>()), late]).finally(() =>
    clearTimeout(timer),
  )
}

export function createMemoryDedupeStore(options: MemoryDedupeStoreOptions): MemoryDedupeStore {
  const { ttlSeconds, reservationSeconds, maxEntries, now = Date.now, storedFingerprints } = options
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
      const unread: number[] = []
      const reserved: Array<readonly [string, Entry]> = []
      const statuses = claims.map(({ id, fingerprint }, i): ClaimStatus => {
        const entry = live(id, at)
        if (!entry) {
          const reservation = {
            fingerprint,
            committed: false,
            expiresAt: at + reservationSeconds * 1000,
          }
          put(id, reservation)
          reserved.push([id, reservation])
          return 'new'
        }
        if (!entry.committed) return 'pending'
        if (entry.fingerprint === undefined) unread.push(i)
        return entry.fingerprint === undefined || entry.fingerprint === fingerprint
          ? 'duplicate'
          : 'conflict'
      })
      const receipt = new MemoryReceipt(statuses, reserved)
      if (unread.length === 0 || !storedFingerprints) return of<ClaimReceipt>(receipt)
      // Only re-sends of ids from before the start wait for this read: one query per batch.
      return defer(async (): Promise<ClaimReceipt> => {
        const stored = await readWithin(
          STORED_READ_TIMEOUT_MS,
          storedFingerprints(unread.map((i) => claims[i]!.id)),
        )
        for (const i of unread) {
          const { id, fingerprint } = claims[i]!
          const known = stored.get(id)
          const entry = entries.get(id)
          if (known === undefined || !entry?.committed || entry.fingerprint !== undefined) continue
          // set() on a key it holds keeps the key's place: the eviction order does not change.
          entries.set(id, { ...entry, fingerprint: known })
          if (known !== fingerprint) statuses[i] = 'conflict'
        }
        return receipt
      })
    },
    confirm(receipts: readonly ClaimReceipt[]) {
      const expiresAt = now() + ttlSeconds * 1000
      for (const receipt of unspent(receipts)) {
        for (const [id, { fingerprint }] of receipt.reserved)
          put(id, { fingerprint, committed: true, expiresAt })
      }
      return of(undefined)
    },
    release(receipts: readonly ClaimReceipt[]) {
      for (const receipt of unspent(receipts)) {
        // Only the very reservation this claim made: one that expired and was taken by a later claim is not ours.
        for (const [id, reservation] of receipt.reserved)
          if (entries.get(id) === reservation) entries.delete(id)
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
