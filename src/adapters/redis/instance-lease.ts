import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Redis } from 'ioredis'

/** Where leases live unless told otherwise: `sluice:lease:<instance id>`. */
export const LEASE_KEY_PREFIX = 'sluice:lease:'

export interface InstanceLeaseOptions {
  /** a connected ioredis client; the lease never creates or closes it */
  readonly redis: Redis
  /**
   * How long the lease outlives its last refresh: after a kill -9, the longest the dead instance's
   * reservations keep blocking their ids. Default 3000 ms.
   */
  readonly ttlMs?: number
  /** Default a third of ttlMs: two refreshes in a row may be missed (a slow Redis, a long GC pause) before it lapses. */
  readonly refreshMs?: number
  /** the lease is the key `<keyPrefix><id>` (default `sluice:lease:`) */
  readonly keyPrefix?: string
  /** called on the first failed refresh of a run of failures: the lease lapses if they last ttlMs */
  readonly onRefreshFailed?: (error: unknown) => void
}

/**
 * This instance's claim on being alive, kept in Redis as a key that expires unless refreshed. Claim
 * batches name their owner; a reservation whose owner's lease is gone belongs to a dead process, and
 * the next claim of its id takes it over (redis-dedupe-store.ts).
 */
export interface InstanceLease {
  /**
   * Random per process start, so a restarted process never inherits its predecessor's reservations.
   * 8 characters (48 random bits): a claim batch's name `<id>.<n>` then stays within the length that
   * keeps an id's value in Redis inline (redis-dedupe-store.ts).
   */
  readonly id: string
  readonly keyPrefix: string
  /** Writes the lease now and keeps refreshing it. Commands on one connection run in order, so claims sent after this find it. */
  start(): void
  /**
   * Stops refreshing and deletes the lease: on shutdown, after every claim was confirmed or
   * released, whatever a failed confirm or release left reserved is free at once.
   */
  stop(): Promise<void>
}

export function createInstanceLease(options: InstanceLeaseOptions): InstanceLease {
  const { redis, ttlMs = 3000, keyPrefix = LEASE_KEY_PREFIX, onRefreshFailed } = options
  const refreshMs = options.refreshMs ?? Math.max(1, Math.floor(ttlMs / 3))
  const id = randomBytes(6).toString('base64url')
  const key = keyPrefix + id
  // Who holds it, for an operator reading Redis; claims only ask whether the key exists.
  const holder = `${hostname()}:${process.pid}`
  let timer: NodeJS.Timeout | undefined
  let running = false
  let failing = false

  async function refresh(): Promise<void> {
    try {
      await redis.set(key, holder, 'PX', ttlMs)
      failing = false
    } catch (error) {
      if (!failing) onRefreshFailed?.(error)
      failing = true
    }
  }

  // The next refresh is timed from the end of the last, so a slow Redis never piles them up.
  function schedule(): void {
    timer = setTimeout(() => void refresh().then(() => running && schedule()), refreshMs)
    // The lease never keeps a process alive by itself.
    timer.unref()
  }

  return {
    id,
    keyPrefix,
    start() {
      if (running) return
      running = true
      void refresh().then(() => running && schedule())
    },
    async stop() {
      running = false
      clearTimeout(timer)
      await redis.del(key).catch(() => {})
    },
  }
}
