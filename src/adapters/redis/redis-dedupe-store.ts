import { randomBytes } from 'node:crypto'
import { defer, of } from 'rxjs'
import type { Redis } from 'ioredis'
import type { Claim, ClaimReceipt, ClaimStatus, DedupeStore } from '../../streams/ports.js'
import { LEASE_KEY_PREFIX, type InstanceLease } from './instance-lease.js'
import { packClaims } from './packed-claims.js'

export interface RedisDedupeStoreOptions {
  /** a connected ioredis client; the store never creates or closes it */
  readonly redis: Redis
  /** how long a confirmed id stays a duplicate (DEDUPE_TTL_SECONDS) */
  readonly ttlSeconds: number
  /** how long a claim stays reserved if its commit never confirms or releases it and its owner lives on */
  readonly reservationSeconds: number
  /**
   * This instance's lease (instance-lease.ts), started and stopped by the caller. Claim batches name
   * it as their owner, and a reservation whose owner's lease lapsed is taken over by the next claim
   * of its id. Without one, batches name no owner and a dead process's reservations block their
   * ids until reservationSeconds runs out.
   */
  readonly lease?: Pick<InstanceLease, 'id' | 'keyPrefix'>
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
 * event of writing every key twice. A batch whose state is gone (released, or the reservation ran
 * out) holds nothing: the next claim takes its ids over.
 *
 * Owners. A batch is named `<owner>.<n>`: the owner is the lease id of the instance that claimed
 * it, so every id's value names its owner. A reserved batch whose owner's lease
 * (`sluice:lease:<owner>`) is gone belongs to a dead process and holds nothing either. The owner is
 * in the name, not in the state, so that versions before leases (which read `p` and `c` only) still
 * read it right during a rolling upgrade; and the name keeps 16 characters (an 8-character owner,
 * a base-36 counter of up to 7), so a value with a 27-character fingerprint stays within the 44
 * bytes Redis keeps inline with the key's object (measured on Redis 7.0 with
 * `sluice:dedupe:<uuid>`: 152 bytes a key, 168 past 44).
 *
 * Each method is one Lua script call, so a batch costs one round trip and no other client slips
 * between a SET NX and the reads that explain its failure. The scripts read other batches' state
 * keys and leases by name, so this store is for one Redis; on a Redis Cluster,
 * redis-cluster-dedupe-store.ts runs the same script once per node, on keys that node holds.
 */

/*
 * The claim script. KEYS: this batch's state key. ARGV: the batch, ttl, reservation in ms, the
 * batch key prefix, the lease key prefix, the ids' key prefix, then the claims packed into one
 * argument (packed-claims.ts: each id, then its fingerprint, as a 2-byte length and its bytes).
 * The ids' keys are made in the script, not declared as KEYS: on a Redis Cluster they are in many
 * slots of the one node the script runs on, which only a script flagged allow-cross-slot-keys may
 * touch (Redis 7), and only undeclared (the node refuses declared keys of several slots with
 * CROSSSLOT). On one Redis the script goes without the flag, which Redis before 7 cannot read.
 */
export function claimScript(layout: 'standalone' | 'cluster'): string {
  const head = layout === 'cluster' ? '#!lua flags=allow-cross-slot-keys\n' : ''
  return `${head}local batchKey = KEYS[1]
local batch, ttl, batchPrefix, leasePrefix = ARGV[1], ARGV[2], ARGV[4], ARGV[5]
local keyPrefix, packed = ARGV[6], ARGV[7]
local me = string.match(batch, '^([^.]+)%.')
-- Reserved first, so that a second copy of an id in this very batch reads as pending.
redis.call('SET', batchKey, 'p', 'PX', ARGV[3])
-- What a batch holds now: 'c', 'p' (reserved by a live owner), or false. Both lookups are kept for
-- the whole call: thousands of ids left by one dead process cost one read of its state and lease.
local states, alive = {}, {}
local function stateOf(held)
  local state = states[held]
  if state ~= nil then return state end
  state = redis.call('GET', batchPrefix .. held)
  local owner = state == 'p' and string.match(held, '^([^.]+)%.')
  -- Never our own: a lease lapsed for a moment (Redis restarted) must not free a second copy of an id.
  if owner and owner ~= me then
    if alive[owner] == nil then alive[owner] = redis.call('EXISTS', leasePrefix .. owner) == 1 end
    if not alive[owner] then state = false end
  end
  states[held] = state
  return state
end
local at = 1
local function nextString()
  local high, low = string.byte(packed, at, at + 1)
  local length = high * 256 + low
  local value = string.sub(packed, at + 2, at + 1 + length)
  at = at + 2 + length
  return value
end
local out, taken, i = {}, 0, 0
while at <= #packed do
  i = i + 1
  local key = keyPrefix .. nextString()
  local fp = nextString()
  local mine = batch .. ':' .. fp
  if redis.call('SET', key, mine, 'NX', 'EX', ttl) then
    out[i] = 'n'
    taken = taken + 1
  else
    local held = redis.call('GET', key)
    local sep = held and string.find(held, ':', 1, true)
    local holder = sep and string.sub(held, 1, sep - 1)
    -- 'p:'/'c:' values are the layout before claim batches: the state was in the value itself.
    local state = holder and (#holder == 1 and holder or stateOf(holder))
    if state == 'c' then
      out[i] = string.sub(held, sep + 1) == fp and 'd' or 'x'
    elseif state == 'p' then
      out[i] = 'p'
    else
      redis.call('SET', key, mine, 'EX', ttl)
      out[i] = 'n'
      taken = taken + 1
    end
  end
end
if taken == 0 then redis.call('DEL', batchKey) end
return table.concat(out)`
}

// KEYS: the state keys of the batches. ARGV: ttl. An id another claim took over meanwhile (its
// owner's lease had lapsed) names that claim's batch now, and this write does not touch it.
export const CONFIRM = `
for i = 1, #KEYS do redis.call('SET', KEYS[i], 'c', 'EX', ARGV[1]) end
return #KEYS`

// KEYS: the state keys of the batches. Only reservations go: a committed batch stays committed.
export const RELEASE = `
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == 'p' then redis.call('DEL', KEYS[i]) end
end
return #KEYS`

/** Claim batches without an owner: 96 random bits, as unique as a name can need. */
const randomBatchName = () => randomBytes(12).toString('base64url')

/** Counts claim batches across every store of this process, so two stores sharing one lease never name a batch alike. */
let batchesNamed = 0

export const STATUS: Record<string, ClaimStatus> = {
  n: 'new',
  d: 'duplicate',
  x: 'conflict',
  p: 'pending',
}

/** What `defineCommand` adds to the client. Without numberOfKeys, the key count is the first argument. */
interface DedupeCommands {
  sluiceDedupeClaimBatch(numKeys: number, ...args: Array<string | number | Buffer>): Promise<string>
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
  const {
    redis,
    ttlSeconds,
    reservationSeconds,
    lease,
    keyPrefix = 'sluice:dedupe:',
    batchKeyPrefix = 'sluice:dedupe-batch:',
  } = options
  // Defining again on the same client (a second store) just replaces the same script.
  redis.defineCommand('sluiceDedupeClaimBatch', { lua: claimScript('standalone') })
  redis.defineCommand('sluiceDedupeConfirmBatch', { lua: CONFIRM })
  redis.defineCommand('sluiceDedupeReleaseBatch', { lua: RELEASE })
  const commands = redis as unknown as DedupeCommands
  const ttl = Math.ceil(ttlSeconds)
  const reservationMs = Math.max(1, Math.round(reservationSeconds * 1000))
  // A store without a lease of its own still frees the reservations of other instances that died.
  const leaseKeyPrefix = lease?.keyPrefix ?? LEASE_KEY_PREFIX
  const batchName = lease ? () => `${lease.id}.${(batchesNamed++).toString(36)}` : randomBatchName
  return {
    claim(claims: readonly Claim[]) {
      if (claims.length === 0) return of<ClaimReceipt>(new RedisReceipt([], '', 0))
      return defer(async (): Promise<ClaimReceipt> => {
        const batch = batchName()
        let answer: string
        try {
          answer = await commands.sluiceDedupeClaimBatch(
            1,
            batchKeyPrefix + batch,
            batch,
            ttl,
            reservationMs,
            batchKeyPrefix,
            leaseKeyPrefix,
            keyPrefix,
            packClaims(claims),
          )
        } catch (error) {
          // A claim ioredis gave up on (commandTimeout, or queued while disconnected) is not taken
          // back: it may still run after a reconnect, and would then hold these ids for the whole
          // reservation with nobody left to release them. A release queued behind it on the same
          // connection runs after it and frees the batch. Best effort.
          commands.sluiceDedupeReleaseBatch(1, batchKeyPrefix + batch).catch(() => {})
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
        await commands.sluiceDedupeConfirmBatch(
          batches.length,
          ...batches.map((batch) => batchKeyPrefix + batch),
          ttl,
        )
      })
    },
    release(receipts: readonly ClaimReceipt[]) {
      const batches = batchesOf(receipts)
      if (batches.length === 0) return of(undefined)
      return defer(async () => {
        await commands.sluiceDedupeReleaseBatch(
          batches.length,
          ...batches.map((batch) => batchKeyPrefix + batch),
        )
      })
    },
  }
}
