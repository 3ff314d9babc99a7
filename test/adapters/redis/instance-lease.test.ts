import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import {
  createInstanceLease,
  type InstanceLease,
} from '../../../src/adapters/redis/instance-lease.js'
import { sleep, until } from '../../support/wait.js'

// A real Redis (scripts/services.sh starts one); every lease of this run lives under its own prefix.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const keyPrefix = `sluice:test:${randomUUID()}:lease:`
const clients: Redis[] = []
const leases: InstanceLease[] = []

function connect(): Redis {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
  clients.push(redis)
  return redis
}

function lease(
  redis: Redis,
  options: { ttlMs?: number; refreshMs?: number; onRefreshFailed?: (error: unknown) => void } = {},
): InstanceLease {
  const made = createInstanceLease({ redis, keyPrefix, ...options })
  leases.push(made)
  return made
}

afterAll(async () => {
  await Promise.all(leases.map((made) => made.stop()))
  const redis = connect()
  const keys = await redis.keys(`${keyPrefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  await Promise.all(clients.map((client) => client.quit().catch(() => {})))
})

describe('instance lease', () => {
  it('is written when it starts, before any command sent after the start, with a TTL of ttlMs', async () => {
    const redis = connect()
    const made = lease(redis, { ttlMs: 3000 })
    made.start()
    const [holder, pttl] = await Promise.all([
      redis.get(keyPrefix + made.id),
      redis.pttl(keyPrefix + made.id),
    ])
    expect(holder).toMatch(/:\d+$/)
    expect(pttl).toBeGreaterThan(0)
    expect(pttl).toBeLessThanOrEqual(3000)
  })

  it('stays while its process refreshes it, well past its TTL', async () => {
    const redis = connect()
    const made = lease(redis, { ttlMs: 600, refreshMs: 100 })
    made.start()
    await sleep(2000)
    expect(await redis.exists(keyPrefix + made.id)).toBe(1)
  })

  it('lapses by itself once its process is gone (no refresh, no delete)', async () => {
    const dying = connect()
    const made = lease(dying, { ttlMs: 500 })
    made.start()
    const redis = connect()
    await until(
      async () => (await redis.exists(keyPrefix + made.id)) === 1,
      5000,
      'the lease written',
    )
    // What a kill -9 does to the lease: the connection goes, and nothing refreshes or deletes it.
    dying.disconnect()
    await until(
      async () => (await redis.exists(keyPrefix + made.id)) === 0,
      10_000,
      'the lease lapsed',
    )
  })

  it('is deleted when stopped, and not written again', async () => {
    const redis = connect()
    const made = lease(redis, { ttlMs: 600, refreshMs: 50 })
    made.start()
    await sleep(120)
    await made.stop()
    expect(await redis.exists(keyPrefix + made.id)).toBe(0)
    await sleep(200)
    expect(await redis.exists(keyPrefix + made.id)).toBe(0)
  })

  it('has an id of its own on every start of a process', () => {
    const redis = connect()
    expect(lease(redis).id).not.toBe(lease(redis).id)
  })

  it('reports a run of failed refreshes once, not once per refresh', async () => {
    const down = new Redis({
      host: '127.0.0.1',
      port: 1,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    })
    down.on('error', () => {})
    const failures: unknown[] = []
    const made = lease(down, {
      ttlMs: 60,
      refreshMs: 10,
      onRefreshFailed: (error) => failures.push(error),
    })
    made.start()
    await until(() => failures.length > 0, 5000, 'a failed refresh reported')
    await sleep(200)
    await made.stop()
    down.disconnect()
    expect(failures).toHaveLength(1)
  })
})
