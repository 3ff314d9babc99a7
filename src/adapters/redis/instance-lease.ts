import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Cluster, Redis } from 'ioredis'
import { primaryTags, slotMapKnown } from './cluster-slots.js'

/** Where leases live unless told otherwise: `sluice:lease:<instance id>`. */
export const LEASE_KEY_PREFIX = 'sluice:lease:'

export interface InstanceLeaseOptions {
  /**
   * A connected ioredis client; the lease never creates or closes it. On a Cluster the lease is
   * kept on every primary, as `<keyPrefix>{<tag>}<id>` with each primary's tag (cluster-slots.ts),
   * where the claim scripts running on that primary read it.
   */
  readonly redis: Redis | Cluster
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

  // The keys to keep: one, or one per primary of the slot map as it is now.
  async function primaryKeys(cluster: Cluster): Promise<string[]> {
    // Before the first slot map (the client is still connecting), wait for one: a lease written
    // nowhere would let other instances take this one's reservations over.
    await slotMapKnown(cluster)
    return [...primaryTags(cluster).values()].map((tag) => `${keyPrefix}{${tag}}${id}`)
  }
  let kept: string[] = []

  async function refresh(): Promise<void> {
    try {
      // One Redis: no await before the SET, so that it goes before any command sent after start().
      kept = redis.isCluster ? await primaryKeys(redis as Cluster) : [key]
      await Promise.all(kept.map((one) => redis.set(one, holder, 'PX', ttlMs)))
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
      await Promise.all(kept.map((one) => redis.del(one).catch(() => {})))
    },
  }
}
