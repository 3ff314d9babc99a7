import { randomBytes } from 'node:crypto'
import { defer, of } from 'rxjs'
import type { Cluster } from 'ioredis'
import type { Claim, ClaimReceipt, ClaimStatus, DedupeStore } from '../../streams/ports.js'
import { primaryOf, primaryTags, slotMapKnown, slotOf } from './cluster-slots.js'
import { LEASE_KEY_PREFIX, type InstanceLease } from './instance-lease.js'
import { packClaims } from './packed-claims.js'
import { CONFIRM, RELEASE, STATUS, claimScript } from './redis-dedupe-store.js'

export interface RedisClusterDedupeStoreOptions {
  /** a connected ioredis Cluster; the store never creates or closes it */
  readonly cluster: Cluster
  readonly ttlSeconds: number
  readonly reservationSeconds: number
  /** this instance's lease, kept on every primary (instance-lease.ts) */
  readonly lease?: Pick<InstanceLease, 'id' | 'keyPrefix'>
  /** `sluice:dedupe:<id>` (API.md §5): the ids' keys carry no hash tag, so they spread over every slot */
  readonly keyPrefix?: string
  readonly batchKeyPrefix?: string
  /** how many times a claim regroups after the slot map moved under it (default 3) */
  readonly regroupAttempts?: number
  /** how long a confirm or release is sent again while its primary fails over (default 10000) */
  readonly persistMs?: number
}

/*
 * The store of redis-dedupe-store.ts on a Redis Cluster: the same Lua, the same values, the same
 * two phases; what changes is where each key lives.
 *
 * - A batch is split by the primary that owns each id's key (the client's slot map), and each part
 *   is claimed by one script call on that primary: one round trip per node, in parallel.
 * - Each part is a claim batch of its own, and its state key carries the hash tag of its primary
 *   (`sluice:dedupe-batch:{<tag>}<batch>`, cluster-slots.ts): the ids a script marks and the state
 *   key their values name are on the same node. So are the leases (`sluice:lease:{<tag>}<owner>`,
 *   written on every primary): the script reads every other batch's state and lease on its own node.
 * - Confirm and release are one write per primary the batch touched, grouped by slot.
 *
 * When the slot map moves under a claim (a failover, a resharding), ioredis follows MOVED for the
 * state key, and the script stops at the first id its node does not hold ("non local key"). What it
 * marked names a batch that is released at once (state gone: free to take over), and the ids not
 * claimed are grouped again on a fresh map. An id whose slot moved after its claim names a state
 * key on its old node: it reads as free, so a re-send is taken as new — never as a false duplicate,
 * and the table engine collapses the copy (API.md §5). A claim that still fails throws: the
 * pipeline fails open or rejects (DEDUPE_ON_ERROR).
 */

class ClusterReceipt implements ClaimReceipt {
  spent = false
  constructor(
    readonly statuses: readonly ClaimStatus[],
    /** the state keys of the parts that reserved ids: one write each to confirm or release */
    readonly stateKeys: readonly string[],
  ) {}
}

interface ClusterCommands {
  sluiceClusterClaim(numKeys: number, ...args: Array<string | number | Buffer>): Promise<string>
  sluiceClusterConfirm(numKeys: number, ...args: Array<string | number>): Promise<number>
  sluiceClusterRelease(numKeys: number, ...args: Array<string | number>): Promise<number>
}

let partsNamed = 0

const movedUnder = (error: unknown) =>
  /non local key|MOVED|ASK|CLUSTERDOWN|TRYAGAIN/.test(String((error as Error)?.message))

export function createRedisClusterDedupeStore(
  options: RedisClusterDedupeStoreOptions,
): DedupeStore {
  const {
    cluster,
    ttlSeconds,
    reservationSeconds,
    lease,
    keyPrefix = 'sluice:dedupe:',
    batchKeyPrefix = 'sluice:dedupe-batch:',
    regroupAttempts = 3,
    persistMs = 10_000,
  } = options
  cluster.defineCommand('sluiceClusterClaim', { lua: claimScript('cluster') })
  cluster.defineCommand('sluiceClusterConfirm', { lua: CONFIRM })
  cluster.defineCommand('sluiceClusterRelease', { lua: RELEASE })
  const commands = cluster as unknown as ClusterCommands
  const ttl = Math.ceil(ttlSeconds)
  const reservationMs = Math.max(1, Math.round(reservationSeconds * 1000))
  const leaseKeyPrefix = lease?.keyPrefix ?? LEASE_KEY_PREFIX
  // Without a lease, names without an owner (no '.'): the script never asks whether they live.
  const partName = lease
    ? () => `${lease.id}.${(partsNamed++).toString(36)}`
    : () => randomBytes(12).toString('base64url')

  /** One state key per slot group: keys with one tag share a slot, so a script may name them all. */
  async function eachSlot(
    keys: readonly string[],
    run: (keys: string[]) => Promise<unknown>,
  ): Promise<void> {
    const bySlot = new Map<number, string[]>()
    for (const key of keys) {
      const slot = slotOf(key)
      const group = bySlot.get(slot)
      if (group) group.push(key)
      else bySlot.set(slot, [key])
    }
    await Promise.all([...bySlot.values()].map(run))
  }
  /*
   * Confirms and releases outlast a failover: one the dead primary never answered is sent again
   * (to its replica, once promoted) for up to persistMs. Given up on, a confirm leaves its ids
   * reserved until reservationSeconds (re-sends are answered `failed`, never a false duplicate);
   * a release, until its owner's lease or the reservation lapses.
   */
  async function persist(keys: readonly string[], write: (group: string[]) => Promise<unknown>) {
    const deadline = Date.now() + persistMs
    for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
      try {
        return await eachSlot(keys, write)
      } catch (error) {
        if (Date.now() + delay > deadline) throw error
        await new Promise((resolve) => setTimeout(resolve, delay))
        await new Promise<void>((done) => cluster.refreshSlotsCache(() => done()))
      }
    }
  }
  const releaseKeys = (keys: readonly string[]) =>
    persist(keys, (group) => commands.sluiceClusterRelease(group.length, ...group))

  /** Claims `indices` of `claims` on the primary tagged `tag`; resolves with its answer, one letter an id. */
  async function claimPart(
    claims: readonly Claim[],
    indices: readonly number[],
    tag: string,
    stateKeys: string[],
  ): Promise<string> {
    const batch = partName()
    const batchPrefix = `${batchKeyPrefix}{${tag}}`
    const stateKey = batchPrefix + batch
    try {
      const answer = await commands.sluiceClusterClaim(
        1,
        stateKey,
        batch,
        ttl,
        reservationMs,
        batchPrefix,
        `${leaseKeyPrefix}{${tag}}`,
        keyPrefix,
        packClaims(claims, indices),
      )
      if (answer.includes('n')) stateKeys.push(stateKey)
      return answer
    } catch (error) {
      // What the script marked before it stopped names this batch: freed, it holds nothing.
      releaseKeys([stateKey]).catch(() => {})
      throw error
    }
  }

  return {
    claim(claims: readonly Claim[]) {
      if (claims.length === 0) return of<ClaimReceipt>(new ClusterReceipt([], []))
      return defer(async (): Promise<ClaimReceipt> => {
        const statuses = new Array<ClaimStatus>(claims.length)
        const stateKeys: string[] = []
        let todo = claims.map((_, i) => i)
        try {
          for (let attempt = 0; todo.length > 0; attempt++) {
            if (!(await slotMapKnown(cluster)))
              throw new Error('redis cluster: no slot map (no node answers)')
            const tags = primaryTags(cluster)
            const parts = new Map<string, number[]>()
            for (const i of todo) {
              const primary = primaryOf(cluster, keyPrefix + claims[i]!.id) ?? '?'
              const part = parts.get(primary)
              if (part) part.push(i)
              else parts.set(primary, [i])
            }
            const again: number[] = []
            let failure: Error | undefined
            await Promise.all(
              [...parts].map(async ([primary, indices]) => {
                const tag = tags.get(primary)
                try {
                  // A slot no primary serves (mid-failover): ask again on a fresh map.
                  if (tag === undefined) throw new Error('CLUSTERDOWN: a slot without a primary')
                  const answer = await claimPart(claims, indices, tag, stateKeys)
                  for (let j = 0; j < indices.length; j++)
                    statuses[indices[j]!] = STATUS[answer[j]!]!
                } catch (error) {
                  if (movedUnder(error) && attempt + 1 < regroupAttempts) again.push(...indices)
                  else failure ??= error as Error
                }
              }),
            )
            if (failure !== undefined) throw failure
            if (again.length > 0)
              await new Promise<void>((done) => cluster.refreshSlotsCache(() => done()))
            todo = again
          }
        } catch (error) {
          // The parts that did claim are not answered: free them now, not after the reservation.
          releaseKeys(stateKeys).catch(() => {})
          throw error
        }
        return new ClusterReceipt(statuses, stateKeys)
      })
    },
    confirm(receipts: readonly ClaimReceipt[]) {
      const keys = stateKeysOf(receipts)
      if (keys.length === 0) return of(undefined)
      return defer(() =>
        persist(keys, (group) => commands.sluiceClusterConfirm(group.length, ...group, ttl)),
      )
    },
    release(receipts: readonly ClaimReceipt[]) {
      const keys = stateKeysOf(receipts)
      if (keys.length === 0) return of(undefined)
      return defer(() => releaseKeys(keys))
    },
  }
}

function stateKeysOf(receipts: readonly ClaimReceipt[]): string[] {
  const keys: string[] = []
  for (const receipt of receipts) {
    if (!(receipt instanceof ClusterReceipt) || receipt.spent) continue
    receipt.spent = true
    keys.push(...receipt.stateKeys)
  }
  return keys
}
