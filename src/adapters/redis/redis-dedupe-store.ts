import { randomBytes } from 'node:crypto'
import { defer, of } from 'rxjs'
import type { Redis } from 'ioredis'
import type { Claim, ClaimReceipt, ClaimStatus, DedupeStore } from '../../streams/ports.js'

export interface RedisDedupeStoreOptions {
  /** a connected ioredis client; the store never creates or closes it */
  readonly redis: Redis
  /** how long a confirmed id stays a duplicate (DEDUPE_TTL_SECONDS) */
  readonly ttlSeconds: number
  /** how long a claim stays reserved if its commit never confirms or releases it (a crash) */
  readonly reservationSeconds: number
  /** prepended to every id: `sluice:dedupe:<id>` (API.md §5) */
  readonly keyPrefix?: string
  /** prepended to every claim batch's state key (default: `sluice:dedupe-batch:`, outside the ids' space) */
  readonly batchKeyPrefix?: string
}

/*
 * Layout. Each id's key holds `<batch>:<fingerprint>` for the whole dedupe window from the moment it
 * is claimed; whether that claim counts is the state of its claim batch, one key per batch:
 * `p` (reserved: its commit is in progress) for the reservation time, then `c` (committed) for the
 * dedupe window. Confirming a batch is then ONE write, not one per id: half the Redis work per
 * event of writing every key twice. A batch whose state is gone (released, or its process died and
 * the reservation lapsed) holds nothing: the next claim takes its ids over.
 *
 * Each method is one Lua script call, so a batch costs one round trip and no other client slips
 * between a SET NX and the reads that explain its failure. The scripts read other batches' state
 * keys by name, so this store is not for Redis Cluster (one script touches keys of many slots).
 */
const CLAIM = `
local n = #KEYS - 1
local batchKey, batch, ttl, batchPrefix = KEYS[#KEYS], ARGV[1], ARGV[2], ARGV[4]
-- Reserved first, so that a second copy of an id in this very batch reads as pending.
redis.call('SET', batchKey, 'p', 'PX', ARGV[3])
local out, taken = {}, 0
for i = 1, n do
  local fp = ARGV[i + 4]
  local mine = batch .. ':' .. fp
  if redis.call('SET', KEYS[i], mine, 'NX', 'EX', ttl) then
    out[i] = 'n'
    taken = taken + 1
  else
    local held = redis.call('GET', KEYS[i])
    local sep = held and string.find(held, ':', 1, true)
    local owner = sep and string.sub(held, 1, sep - 1)
    -- 'p:'/'c:' values are the layout before claim batches: the state was in the value itself.
    local state = owner and (#owner == 1 and owner or redis.call('GET', batchPrefix .. owner))
    if state == 'c' then
      out[i] = string.sub(held, sep + 1) == fp and 'd' or 'x'
    elseif state == 'p' then
      out[i] = 'p'
    else
      redis.call('SET', KEYS[i], mine, 'EX', ttl)
      out[i] = 'n'
      taken = taken + 1
    end
  end
end
if taken == 0 then redis.call('DEL', batchKey) end
return table.concat(out)`

// KEYS: the state keys of whole batches, then ids confirmed on their own (part of a batch, or never
// claimed here: the store was unreachable at claim time and the events went through).
// ARGV: ttl, the number of whole batches, the batch the single ids move to, their fingerprints.
const CONFIRM = `
local ttl, whole, batch = ARGV[1], tonumber(ARGV[2]), ARGV[3]
for i = 1, whole do redis.call('SET', KEYS[i], 'c', 'EX', ttl) end
if #KEYS > whole then
  for i = whole + 1, #KEYS - 1 do redis.call('SET', KEYS[i], batch .. ':' .. ARGV[i - whole + 3], 'EX', ttl) end
  redis.call('SET', KEYS[#KEYS], 'c', 'EX', ttl)
end
return #KEYS`

// KEYS: the state keys of whole batches, then ids released on their own. ARGV: the number of whole
// batches, then each single id's '<batch>:<fingerprint>'. Only our own reservations go: a batch
// that is committed, or an id that another claim took over, belongs to someone else.
const RELEASE = `
local whole = tonumber(ARGV[1])
for i = 1, whole do
  if redis.call('GET', KEYS[i]) == 'p' then redis.call('DEL', KEYS[i]) end
end
for i = whole + 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[i - whole + 1] then redis.call('DEL', KEYS[i]) end
end
return #KEYS`

const newBatchId = () => randomBytes(12).toString('base64url')

const STATUS: Record<string, ClaimStatus> = { n: 'new', d: 'duplicate', x: 'conflict', p: 'pending' }

/** What `defineCommand` adds to the client. Without numberOfKeys, the key count is the first argument. */
interface DedupeCommands {
  sluiceDedupeClaimBatch(numKeys: number, ...args: Array<string | number>): Promise<string>
  sluiceDedupeConfirmBatch(numKeys: number, ...args: Array<string | number>): Promise<number>
  sluiceDedupeReleaseBatch(numKeys: number, ...args: Array<string | number>): Promise<number>
}

/**
 * A claim batch of this process, as its receipt: the statuses, and the batch whose state key decides
 * all its reservations at once, so the store keeps no map of the ids in flight.
 */
class RedisReceipt implements ClaimReceipt {
  /** set by the first confirm or release: a receipt is handed back once */
  spent = false

  constructor(
    readonly statuses: readonly ClaimStatus[],
    readonly batch: string,
    /** how many of its ids it reserved ('new'): a batch with none has nothing to confirm or release */
    readonly reserved: number,
  ) {}
}

/** The state keys of this store's receipts not yet handed back; others' (and spent ones) are ignored. */
function batchesOf(receipts: readonly ClaimReceipt[]): string[] {
  const batches: string[] = []
  for (const receipt of receipts) {
    if (!(receipt instanceof RedisReceipt) || receipt.spent) continue
    receipt.spent = true
    if (receipt.reserved > 0) batches.push(receipt.batch)
  }
  return batches
}

/**
 * The dedupe store shared by every Sluice instance: the same two-phase claims as the memory store.
 * ioredis sends EVALSHA and falls back to EVAL on NOSCRIPT, so scripts survive a Redis restart.
 */
export function createRedisDedupeStore(options: RedisDedupeStoreOptions): DedupeStore {
  const { redis, ttlSeconds, reservationSeconds, keyPrefix = 'sluice:dedupe:', batchKeyPrefix = 'sluice:dedupe-batch:' } = options
  // Defining again on the same client (a second store) just replaces the same script.
  redis.defineCommand('sluiceDedupeClaimBatch', { lua: CLAIM })
  redis.defineCommand('sluiceDedupeConfirmBatch', { lua: CONFIRM })
  redis.defineCommand('sluiceDedupeReleaseBatch', { lua: RELEASE })
  const commands = redis as unknown as DedupeCommands
  const ttl = Math.ceil(ttlSeconds)
  const reservationMs = Math.max(1, Math.round(reservationSeconds * 1000))
  return {
    claim(claims: readonly Claim[]) {
      if (claims.length === 0) return of<ClaimReceipt>(new RedisReceipt([], '', 0))
      return defer(async (): Promise<ClaimReceipt> => {
        const batch = newBatchId()
        const keys = new Array<string>(claims.length + 1)
        const fingerprints = new Array<string>(claims.length)
        for (let i = 0; i < claims.length; i++) {
          keys[i] = keyPrefix + claims[i]!.id
          fingerprints[i] = claims[i]!.fingerprint
        }
        keys[claims.length] = batchKeyPrefix + batch
        let answer: string
        try {
          answer = await commands.sluiceDedupeClaimBatch(keys.length, ...keys, batch, ttl, reservationMs, batchKeyPrefix, ...fingerprints)
        } catch (error) {
          // A claim ioredis gave up on (commandTimeout, or queued while disconnected) is not taken
          // back: it may still run after a reconnect, and would then hold these ids for the whole
          // reservation with nobody left to release them. A release queued behind it on the same
          // connection runs after it and frees the batch. Best effort.
          commands.sluiceDedupeReleaseBatch(1, batchKeyPrefix + batch, 1).catch(() => {})
          throw error
        }
        const statuses = new Array<ClaimStatus>(claims.length)
        let reserved = 0
        for (let i = 0; i < claims.length; i++) {
          const status = STATUS[answer[i]!]!
          statuses[i] = status
          if (status === 'new') reserved++
        }
        return new RedisReceipt(statuses, batch, reserved)
      })
    },
    confirm(receipts: readonly ClaimReceipt[]) {
      const batches = batchesOf(receipts)
      if (batches.length === 0) return of(undefined)
      return defer(async () => {
        await commands.sluiceDedupeConfirmBatch(batches.length, ...batches.map((batch) => batchKeyPrefix + batch), ttl, batches.length, newBatchId())
      })
    },
    release(receipts: readonly ClaimReceipt[]) {
      const batches = batchesOf(receipts)
      if (batches.length === 0) return of(undefined)
      return defer(async () => {
        await commands.sluiceDedupeReleaseBatch(batches.length, ...batches.map((batch) => batchKeyPrefix + batch), batches.length)
      })
    },
  }
}
