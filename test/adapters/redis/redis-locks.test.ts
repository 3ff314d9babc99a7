import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { createRedisLocks } from '../../../src/adapters/redis/redis-locks.js'
import type { Lock } from '../../../src/streams/routing/ports.js'
import { sleep } from '../../support/wait.js'

// A real Redis (scripts/services.sh starts one); every lock of this run lives under its own prefix.
// Two clients stand for two Sluice instances.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const keyPrefix = `sluice:test:${randomUUID()}:`
const clients: Redis[] = []
const held: Lock[] = []

function connect(): Redis {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
  clients.push(redis)
  return redis
}

function locks(options: { ttlMs?: number; refreshMs?: number; onLost?: (name: string) => void }) {
  const made = createRedisLocks({ redis: connect(), keyPrefix, ...options })
  const take = made.take.bind(made)
  made.take = async (name) => {
    const lock = await take(name)
    if (lock) held.push(lock)
    return lock
  }
  return made
}

afterAll(async () => {
  await Promise.all(held.map((lock) => lock.release().catch(() => {})))
  const redis = connect()
  const keys = await redis.keys(`${keyPrefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  await Promise.all(clients.map((client) => client.quit().catch(() => {})))
})

describe('Redis locks', () => {
  it('give a name to one holder at a time, across instances, until it is released', async () => {
    const one = locks({})
    const two = locks({})
    const first = await one.take('replay:analytics')
    expect(first).toBeDefined()
    expect(await two.take('replay:analytics')).toBeUndefined()
    expect(await one.take('replay:analytics')).toBeUndefined()
    // Another name is another lock.
    expect(await two.take('replay:billing')).toBeDefined()
    expect(await two.holder('replay:analytics')).toMatch(/:\d+$/)
    await first!.release()
    expect(await two.holder('replay:analytics')).toBeUndefined()
    expect(await two.take('replay:analytics')).toBeDefined()
  })

  it('live in the key <prefix><name> with the TTL given', async () => {
    const redis = connect()
    const lock = await locks({ ttlMs: 4000 }).take('consumer:sluice-a')
    expect(lock).toBeDefined()
    const pttl = await redis.pttl(`${keyPrefix}consumer:sluice-a`)
    expect(pttl).toBeGreaterThan(0)
    expect(pttl).toBeLessThanOrEqual(4000)
  })

  it('stay while their holder refreshes them, well past the TTL', async () => {
    const one = locks({ ttlMs: 500, refreshMs: 100 })
    const lock = await one.take('kept')
    await sleep(1500)
    expect(lock!.lost).toBe(false)
    expect(await locks({}).take('kept')).toBeUndefined()
  })

  it('lapse within the TTL once their holder is gone (a kill -9), and wait() takes them then', async () => {
    const dead = createRedisLocks({ redis: connect(), keyPrefix, ttlMs: 600, refreshMs: 100_000 })
    expect(await dead.take('orphan')).toBeDefined()
    const next = locks({ ttlMs: 600 })
    expect(await next.take('orphan')).toBeUndefined()
    const started = Date.now()
    const lock = await next.wait('orphan', 2000, 50)
    expect(lock).toBeDefined()
    expect(Date.now() - started).toBeLessThan(1500)
  })

  it('wait() gives up after waitMs while a live holder keeps the name', async () => {
    await locks({ ttlMs: 300, refreshMs: 50 }).take('busy')
    const started = Date.now()
    expect(await locks({}).wait('busy', 700, 50)).toBeUndefined()
    expect(Date.now() - started).toBeGreaterThanOrEqual(650)
  })

  it('never release or extend a lock that lapsed and another took: the first holder learns it lost it', async () => {
    const redis = connect()
    const lost: string[] = []
    const stalled = createRedisLocks({
      redis: connect(),
      keyPrefix,
      ttlMs: 300,
      refreshMs: 600, // refreshes too late, as a process stalled past the TTL would
      onLost: (name) => lost.push(name),
    })
    const first = await stalled.take('contended')
    await sleep(400)
    const second = await locks({ ttlMs: 5000 }).take('contended')
    expect(second).toBeDefined()
    await sleep(400)
    expect(first!.lost).toBe(true)
    expect(lost).toEqual(['contended'])
    await first!.release()
    expect(await redis.get(`${keyPrefix}contended`)).not.toBeNull()
    expect(await redis.pttl(`${keyPrefix}contended`)).toBeGreaterThan(3000)
  })
})
