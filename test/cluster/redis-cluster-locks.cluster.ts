import { randomUUID } from 'node:crypto'
import type { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { slotOf } from '../../src/adapters/redis/cluster-slots.js'
import { createRedisLocks } from '../../src/adapters/redis/redis-locks.js'
import { connectCluster, startRedisCluster } from './support/redis-cluster.js'

// The locks of a route's replay and of a consumer name on the Redis Cluster: each script touches
// one key, so it runs wherever that key's slot lives. Two clients stand for two instances.
const keyPrefix = `sluice:test:${randomUUID()}:`
let one: Cluster
let two: Cluster

beforeAll(async () => {
  startRedisCluster()
  one = connectCluster()
  two = connectCluster()
  await Promise.all([one.ping(), two.ping()])
})

afterAll(async () => {
  for (const node of one.nodes('master')) {
    const keys = await node.keys(`${keyPrefix}*`)
    await Promise.all(keys.map((key) => node.del(key)))
  }
  await Promise.all([one.quit(), two.quit()])
})

describe('Redis locks on a cluster', () => {
  it('give each name to one instance at a time, on whichever primary owns its key, until released', async () => {
    const names = Array.from({ length: 8 }, (_, i) => `replay:route-${i}`)
    const primaries = new Set(names.map((name) => one.slots[slotOf(keyPrefix + name)]?.[0]))
    expect(primaries.size).toBeGreaterThan(1)
    const a = createRedisLocks({ redis: one, keyPrefix, ttlMs: 2000 })
    const b = createRedisLocks({ redis: two, keyPrefix, ttlMs: 2000 })
    const held = await Promise.all(names.map((name) => a.take(name)))
    expect(held.every(Boolean)).toBe(true)
    expect(await Promise.all(names.map((name) => b.take(name)))).toEqual(names.map(() => undefined))
    await Promise.all(held.map((lock) => lock!.release()))
    const taken = await Promise.all(names.map((name) => b.take(name)))
    expect(taken.every(Boolean)).toBe(true)
    await Promise.all(taken.map((lock) => lock!.release()))
  })

  it('keep a consumer name for its live holder past the TTL, and hand it on once the holder is gone', async () => {
    const live = createRedisLocks({ redis: one, keyPrefix, ttlMs: 600, refreshMs: 100 })
    const lease = await live.take('consumer:sluice-1')
    expect(lease).toBeDefined()
    const next = createRedisLocks({ redis: two, keyPrefix, ttlMs: 600 })
    expect(await next.wait('consumer:sluice-1', 1200, 100)).toBeUndefined()
    expect(await next.holder('consumer:sluice-1')).toMatch(/:\d+$/)
    await lease!.release()
    const again = await next.wait('consumer:sluice-1', 1200, 100)
    expect(again).toBeDefined()
    await again!.release()
  })
})
