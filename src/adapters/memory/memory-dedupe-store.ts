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

/** An id claimed and not yet confirmed or released. */
interface Reservation {
  readonly fingerprint: string
  readonly expiresAt: number
}

/** A committed id's fingerprint when it was re-learned from storage at start and its content not read yet. */
const UNREAD = ''

/** The expiry of the next `count` committed ids, in the order the store holds them. */
interface Span {
  readonly expiresAt: number
  count: number
}

/** A claim batch's answer, with the very entries it reserved: release frees those and no later one. */
class MemoryReceipt implements ClaimReceipt {
  /** set by the first confirm or release: a receipt is handed back once */
  spent = false

  constructor(
    readonly statuses: ClaimStatus[],
    readonly reserved: ReadonlyArray<readonly [string, Reservation]>,
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

/*
 * Memory: the store holds up to DEDUPE_MAX_ENTRIES committed ids (1,000,000 by default), so a
 * committed id is only its key and its fingerprint in one Map, no object of its own. Their expiry is
 * kept per confirm, as spans over the Map's order: ids are added at its end and removed only at its
 * front (expiry, eviction), so the first span always covers its first ids. An id committed again
 * keeps its place and its first expiry. Reservations, few and short-lived, are objects in a Map
 * of their own.
 */
export function createMemoryDedupeStore(options: MemoryDedupeStoreOptions): MemoryDedupeStore {
  const { ttlSeconds, reservationSeconds, maxEntries, now = Date.now, storedFingerprints } = options
  // Both Maps iterate in insertion order: the first key is the oldest.
  const committed = new Map<string, string>()
  const reserved = new Map<string, Reservation>()
  let spans: Span[] = []
  let firstSpan = 0

  function forgetOldestCommitted(): void {
    committed.delete(committed.keys().next().value!)
    const span = spans[firstSpan]!
    if (--span.count === 0) firstSpan++
    if (firstSpan > 1024 && firstSpan * 2 > spans.length) {
      spans = spans.slice(firstSpan)
      firstSpan = 0
    }
  }

  function bound(): void {
    while (committed.size + reserved.size > maxEntries) {
      if (committed.size > 0) forgetOldestCommitted()
      else reserved.delete(reserved.keys().next().value!)
    }
  }

  function commit(id: string, fingerprint: string, expiresAt: number): void {
    reserved.delete(id)
    const again = committed.has(id)
    // set() on a key it holds keeps the key's place, and so its span.
    committed.set(id, fingerprint)
    if (again) return
    const last = spans.length > firstSpan ? spans[spans.length - 1]! : undefined
    if (last?.expiresAt === expiresAt) last.count++
    else spans.push({ expiresAt, count: 1 })
    bound()
  }

  /** Forgets expired ids at the old ends, so that idle memory does not wait for eviction by count. */
  function sweep(at: number): void {
    while (firstSpan < spans.length && spans[firstSpan]!.expiresAt <= at) {
      for (let n = spans[firstSpan]!.count; n > 0; n--) forgetOldestCommitted()
    }
    for (const [id, reservation] of reserved) {
      if (reservation.expiresAt > at) break
      reserved.delete(id)
    }
  }

  return {
    claim(claims: readonly Claim[]) {
      const at = now()
      sweep(at)
      const unread: number[] = []
      const taken: Array<readonly [string, Reservation]> = []
      const statuses = claims.map(({ id, fingerprint }, i): ClaimStatus => {
        const stored = committed.get(id)
        if (stored !== undefined) {
          if (stored === UNREAD) unread.push(i)
          return stored === UNREAD || stored === fingerprint ? 'duplicate' : 'conflict'
        }
        const held = reserved.get(id)
        if (held && held.expiresAt > at) return 'pending'
        const reservation = { fingerprint, expiresAt: at + reservationSeconds * 1000 }
        // An expired reservation gives way: the new one goes to the end, where it expires last.
        if (held) reserved.delete(id)
        reserved.set(id, reservation)
        taken.push([id, reservation])
        bound()
        return 'new'
      })
      const receipt = new MemoryReceipt(statuses, taken)
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
          if (known === undefined || committed.get(id) !== UNREAD) continue
          // set() on a key it holds keeps the key's place: the eviction order and the spans hold.
          committed.set(id, known)
          if (known !== fingerprint) statuses[i] = 'conflict'
        }
        return receipt
      })
    },
    confirm(receipts: readonly ClaimReceipt[]) {
      const expiresAt = now() + ttlSeconds * 1000
      for (const receipt of unspent(receipts)) {
        for (const [id, { fingerprint }] of receipt.reserved) commit(id, fingerprint, expiresAt)
      }
      return of(undefined)
    },
    release(receipts: readonly ClaimReceipt[]) {
      for (const receipt of unspent(receipts)) {
        // Only the very reservation this claim made: one that expired and was taken by a later claim is not ours.
        for (const [id, reservation] of receipt.reserved)
          if (reserved.get(id) === reservation) reserved.delete(id)
      }
      return of(undefined)
    },
    remember(committed) {
      const at = now()
      for (const { id, receivedAt } of committed) {
        const expiresAt = receivedAt + ttlSeconds * 1000
        if (expiresAt > at) commit(id, UNREAD, expiresAt)
      }
    },
    get size() {
      return committed.size + reserved.size
    },
  }
}
