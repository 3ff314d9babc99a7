import { defer, of } from 'rxjs'
import type { Redis } from 'ioredis'
import type { Claim, ClaimStatus, DedupeStore } from '../streams/ports.js'

export interface RedisDedupeStoreOptions {
  /** a connected ioredis client; the store never creates or closes it */
  readonly redis: Redis
  /** how long a confirmed id stays a duplicate (DEDUPE_TTL_SECONDS) */
  readonly ttlSeconds: number
  /** how long a claim stays reserved if its commit never confirms or releases it (a crash) */
  readonly reservationSeconds: number
  /** prepended to every id: `sluice:dedupe:<id>` (API.md §5) */
  readonly keyPrefix?: string
}

/*
 * Values: 'p:<fingerprint>' while a commit is in progress (the reservation), 'c:<fingerprint>'
 * once it committed. Each method is one Lua script over the whole batch, so a batch costs one
 * round trip and no other client can slip between a SET NX and the GET that explains its failure.
 * Keys go in KEYS (not built inside the script) so that the script declares what it touches.
 */
const CLAIM = `
local out = {}
for i, key in ipairs(KEYS) do
  local fp = ARGV[i + 1]
  if redis.call('SET', key, 'p:' .. fp, 'NX', 'PX', ARGV[1]) then
    out[i] = 'new'
  else
    local held = redis.call('GET', key)
    if not held then
      -- cannot happen inside a script (time stands still), but never answer 'new' without the SET
      out[i] = 'pending'
    elseif string.sub(held, 1, 2) == 'p:' then
      out[i] = 'pending'
    elseif held == 'c:' .. fp then
      out[i] = 'duplicate'
    else
      out[i] = 'conflict'
    end
  end
end
return out`

const CONFIRM = `
for i, key in ipairs(KEYS) do
  redis.call('SET', key, 'c:' .. ARGV[i + 1], 'EX', ARGV[1])
end
return #KEYS`

// Only our own reservation goes: a key that is already confirmed, or reserved again by someone
// else after ours expired, belongs to another commit.
const RELEASE = `
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == 'p:' .. ARGV[i] then
    redis.call('DEL', key)
  end
end
return #KEYS`

/** What `defineCommand` adds to the client. Without numberOfKeys, the key count is the first argument. */
interface DedupeCommands {
  sluiceDedupeClaim(numKeys: number, ...args: Array<string | number>): Promise<ClaimStatus[]>
  sluiceDedupeConfirm(numKeys: number, ...args: Array<string | number>): Promise<number>
  sluiceDedupeRelease(numKeys: number, ...args: Array<string | number>): Promise<number>
}

/**
 * The dedupe store shared by every Sluice instance: the same two-phase claims as the memory store.
 * ioredis sends EVALSHA and falls back to EVAL on NOSCRIPT, so scripts survive a Redis restart.
 * Not for Redis Cluster: one script touches keys of many slots.
 */
export function createRedisDedupeStore(options: RedisDedupeStoreOptions): DedupeStore {
  const { redis, ttlSeconds, reservationSeconds, keyPrefix = 'sluice:dedupe:' } = options
  // Defining again on the same client (a second store) just replaces the same script.
  redis.defineCommand('sluiceDedupeClaim', { lua: CLAIM })
  redis.defineCommand('sluiceDedupeConfirm', { lua: CONFIRM })
  redis.defineCommand('sluiceDedupeRelease', { lua: RELEASE })
  const commands = redis as unknown as DedupeCommands
  const keysOf = (claims: readonly Claim[]) => claims.map(({ id }) => keyPrefix + id)
  const fingerprintsOf = (claims: readonly Claim[]) => claims.map(({ fingerprint }) => fingerprint)

  return {
    claim(claims: readonly Claim[]) {
      if (claims.length === 0) return of([])
      const ms = Math.max(1, Math.round(reservationSeconds * 1000))
      return defer(async () => {
        try {
          return await commands.sluiceDedupeClaim(claims.length, ...keysOf(claims), ms, ...fingerprintsOf(claims))
        } catch (error) {
          // A claim ioredis gave up on (commandTimeout, or queued while disconnected) is not taken
          // back: it may still run after a reconnect, and would then hold these ids for the whole
          // reservation with nobody left to release them (the events were failed or let through).
          // A release queued behind it on the same connection runs after it. Best effort.
          commands.sluiceDedupeRelease(claims.length, ...keysOf(claims), ...fingerprintsOf(claims)).catch(() => {})
          throw error
        }
      })
    },
    confirm(claims: readonly Claim[]) {
      if (claims.length === 0) return of(undefined)
      return defer(async () => {
        await commands.sluiceDedupeConfirm(claims.length, ...keysOf(claims), Math.ceil(ttlSeconds), ...fingerprintsOf(claims))
      })
    },
    release(claims: readonly Claim[]) {
      if (claims.length === 0) return of(undefined)
      return defer(async () => {
        await commands.sluiceDedupeRelease(claims.length, ...keysOf(claims), ...fingerprintsOf(claims))
      })
    },
  }
}
