import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Cluster, Redis } from 'ioredis'
import type { Lock, Locks } from '../../streams/routing/ports.js'
import { waitForLock } from '../../streams/routing/wait-for-lock.js'

export interface RedisLocksOptions {
  /** A connected client; the locks never create or close it. Every command touches one key: one Redis or a Cluster alike. */
  readonly redis: Redis | Cluster
  /** the lock is the key `<keyPrefix><name>` (default `sluice:`: `sluice:replay:<route>`, `sluice:consumer:<name>`) */
  readonly keyPrefix?: string
  /** How long a lock outlives its last refresh: after a kill -9, the longest its name stays taken (default 10000 ms). */
  readonly ttlMs?: number
  /** Default a third of ttlMs: two refreshes in a row may fail (a failover, a long GC pause) before it lapses. */
  readonly refreshMs?: number
  /** A held lock was found taken by someone else (it had lapsed): `lost` is true from then on. */
  readonly onLost?: (name: string) => void
}

// Each script touches one key, so it runs on a Cluster's node that owns it. A lapsed key that
// nobody took meanwhile (a failover to a replica that had not seen it) is simply set again.
const REFRESH = `
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not held then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

/**
 * Named locks that every Sluice instance on the same Redis shares: `SET key token NX PX ttl` to
 * take one, refreshed while held (compare-and-expire), released with compare-and-delete, so a
 * holder never extends or frees a lock that lapsed and was taken by another. A process killed while
 * it holds one frees it within `ttlMs`.
 */
export function createRedisLocks(options: RedisLocksOptions): Locks {
  const { redis, keyPrefix = 'sluice:', ttlMs = 10_000, onLost } = options
  const refreshMs = options.refreshMs ?? Math.max(1, Math.floor(ttlMs / 3))
  // Who holds it, for an operator reading Redis; the random part tells two processes apart.
  const owner = `${hostname()}:${process.pid}:`

  async function take(name: string): Promise<Lock | undefined> {
    const key = keyPrefix + name
    const token = owner + randomBytes(8).toString('base64url')
    if ((await redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') return undefined
    let lost = false
    let released = false
    let timer: NodeJS.Timeout | undefined
    // The next refresh is timed from the end of the last: a slow Redis never piles them up.
    const schedule = () => {
      timer = setTimeout(
        () => void refresh().then(() => !released && !lost && schedule()),
        refreshMs,
      )
      timer.unref()
    }
    async function refresh() {
      try {
        const kept = await redis.eval(REFRESH, 1, key, token, ttlMs)
        if (kept === 0 && !released) {
          lost = true
          onLost?.(name)
        }
      } catch {
        // A failed refresh is made up by the next; ttlMs allows for two.
      }
    }
    schedule()
    return {
      name,
      get lost() {
        return lost
      },
      async release() {
        if (released) return
        released = true
        clearTimeout(timer)
        await redis.eval(RELEASE, 1, key, token)
      },
    }
  }

  return {
    ttlMs,
    take,
    async holder(name) {
      const token = await redis.get(keyPrefix + name)
      return token === null ? undefined : token.slice(0, token.lastIndexOf(':'))
    },
    wait: (name, waitMs, pollMs) => waitForLock(take, name, waitMs, pollMs),
  }
}
