import { randomUUID } from 'node:crypto'
import type { Cluster } from 'ioredis'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createInstanceLease, type InstanceLease } from '../../src/adapters/redis/instance-lease.js'
import { primaryTags, slotOf } from '../../src/adapters/redis/cluster-slots.js'
import { createRedisClusterDedupeStore } from '../../src/adapters/redis/redis-cluster-dedupe-store.js'
import type { Claim } from '../../src/streams/ports.js'
import { dedupeStoreContract } from '../contracts/dedupe-store.contract.js'
import { sleep, until } from '../support/wait.js'
import { connectCluster, startRedisCluster } from './support/redis-cluster.js'
import { done, value } from '../support/observables.js'

// Every key of this run under its own prefix; the prefixes carry no hash tag, so ids spread over all slots.
const prefix = `sluice:test:${randomUUID()}:`
const batchKeyPrefix = `${prefix}batch:`
const leaseKeyPrefix = `${prefix}lease:`
const clusters: Cluster[] = []
const leases: InstanceLease[] = []
/** leases of instances killed: nothing stops them, as nothing would after a kill -9 */
const killed = new Set<InstanceLease>()
let cluster: Cluster

function connect(): Cluster {
  const client = connectCluster()
  clusters.push(client)
  return client
}

function startLease(client: Cluster, ttlMs = 1000): InstanceLease {
  const lease = createInstanceLease({ redis: client, ttlMs, keyPrefix: leaseKeyPrefix })
  leases.push(lease)
  lease.start()
  return lease
}

/** Whether any primary still holds the lease (each keeps its own copy). */
async function leaseLives(lease: InstanceLease): Promise<boolean> {
  for (const tag of primaryTags(cluster).values())
    if ((await cluster.exists(`${leaseKeyPrefix}{${tag}}${lease.id}`)) === 1) return true
  return false
}

beforeAll(async () => {
  startRedisCluster()
  cluster = connect()
  await cluster.ping()
})

afterAll(async () => {
  await Promise.all(leases.filter((lease) => !killed.has(lease)).map((lease) => lease.stop()))
  for (const node of cluster.nodes('master')) {
    const keys = await node.keys(`${prefix}*`)
    // One DEL a key: keys of many slots cannot go in one command.
    await Promise.all(keys.map((key) => node.del(key)))
  }
  await Promise.all(clusters.map((client) => client.quit().catch(() => {})))
})

dedupeStoreContract('redis cluster dedupe store', ({ ttlSeconds, reservationSeconds, leaseMs }) => {
  const instance = (client: Cluster, lease: InstanceLease) =>
    createRedisClusterDedupeStore({
      cluster: client,
      ttlSeconds,
      reservationSeconds,
      lease,
      keyPrefix: `${prefix}id:`,
      batchKeyPrefix,
    })
  const own = connect()
  const lease = startLease(own, leaseMs)
  return {
    store: instance(own, lease),
    peer: instance(cluster, startLease(cluster, leaseMs)),
    elapse: sleep,
    async kill() {
      own.disconnect()
      killed.add(lease)
      await until(async () => !(await leaseLives(lease)), 10_000, 'the dead lease lapsed', 20)
      return instance(cluster, startLease(cluster, leaseMs))
    },
  }
})

describe('redis cluster dedupe store', () => {
  const claim = (fingerprint = 'fp-a'): Claim => ({ id: randomUUID(), fingerprint })

  it('computes the slot of a key as the cluster does, hash tags included', async () => {
    for (const key of ['a', 'sluice:dedupe:x', `${prefix}{abc}d`, 'x{}y', 'é{ü}', randomUUID()])
      expect(slotOf(key)).toBe(await cluster.call('CLUSTER', 'KEYSLOT', key))
  })

  it('claims a batch spread over every primary with one script call per primary', async () => {
    const store = createRedisClusterDedupeStore({
      cluster,
      ttlSeconds: 60,
      reservationSeconds: 5,
      keyPrefix: prefix,
      batchKeyPrefix,
    })
    const batch = Array.from({ length: 300 }, () => claim())
    // Once first, so that every primary has the script (a NOSCRIPT answer is a second call).
    await value(store.claim(Array.from({ length: 300 }, () => claim())))
    const before = await evalCalls(cluster)
    const receipt = await value(store.claim(batch))
    const after = await evalCalls(cluster)
    expect(receipt.statuses).toEqual(batch.map(() => 'new'))
    // Each primary held some of 300 random ids: exactly one call each.
    for (const [node, calls] of after) expect(calls - (before.get(node) ?? 0)).toBe(1)
    await done(store.confirm([receipt]))
    expect((await value(store.claim(batch))).statuses).toEqual(batch.map(() => 'duplicate'))
  })
})

/** EVALSHA calls so far on each primary (INFO commandstats). */
async function evalCalls(client: Cluster): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for (const node of client.nodes('master')) {
    const info = await node.info('commandstats')
    const calls = /cmdstat_evalsha:calls=(\d+)/.exec(info)?.[1] ?? '0'
    out.set(`${node.options.host}:${node.options.port}`, Number(calls))
  }
  return out
}
