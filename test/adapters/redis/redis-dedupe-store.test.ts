import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { firstValueFrom, from, lastValueFrom, type ObservableInput } from 'rxjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedisDedupeStore } from '../../../src/adapters/redis/redis-dedupe-store.js'
import type { Claim, ClaimReceipt } from '../../../src/streams/ports.js'
import { dedupeStoreContract } from '../../contracts/dedupe-store.contract.js'
import { sleep } from '../../support/wait.js'

// A real Redis (scripts/services.sh starts one); every key of this run lives under its own prefix.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = `sluice:test:${randomUUID()}:`
const batchKeyPrefix = `${prefix}batch:`
const clients: Redis[] = []

function connect(): Redis {
  const redis = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 })
  clients.push(redis)
  return redis
}

let redis: Redis
beforeAll(() => {
  redis = connect()
})

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`)
  for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000))
  await Promise.all(clients.map((client) => client.quit()))
})

const value = <T>(input: ObservableInput<T>) => firstValueFrom(from(input))
const done = (input: ObservableInput<void>) => lastValueFrom(from(input), { defaultValue: undefined })

dedupeStoreContract('redis dedupe store', ({ ttlSeconds, reservationSeconds }) => ({
  store: createRedisDedupeStore({ redis, ttlSeconds, reservationSeconds, keyPrefix: `${prefix}id:`, batchKeyPrefix }),
  elapse: sleep,
}))

describe('redis dedupe store', () => {
  const claim = (fingerprint = 'fp-a'): Claim => ({ id: randomUUID(), fingerprint })

  it('keeps the default key layout sluice:dedupe:<id> (API.md §5)', async () => {
    const store = createRedisDedupeStore({ redis, ttlSeconds: 60, reservationSeconds: 5 })
    const one = claim()
    try {
      await value(store.claim([one]))
      expect(await redis.get(`sluice:dedupe:${one.id}`)).toMatch(/^[\w-]{16}:fp-a$/)
    } finally {
      await redis.del(`sluice:dedupe:${one.id}`)
    }
  })

  it('keeps each id for the full TTL, and its claim batch reserved for reservationSeconds, then committed for the TTL', async () => {
    const store = createRedisDedupeStore({ redis, ttlSeconds: 3600, reservationSeconds: 30, keyPrefix: prefix, batchKeyPrefix })
    const one = claim()
    const receipt = await value(store.claim([one]))
    const [batch, fingerprint] = (await redis.get(prefix + one.id))!.split(':')
    expect(fingerprint).toBe('fp-a')
    expect(await redis.pttl(prefix + one.id)).toBeGreaterThan(3_599_000)
    expect(await redis.get(batchKeyPrefix + batch)).toBe('p')
    const reserved = await redis.pttl(batchKeyPrefix + batch)
    expect(reserved).toBeGreaterThan(29_000)
    expect(reserved).toBeLessThanOrEqual(30_000)
    await done(store.confirm([receipt]))
    expect(await redis.get(batchKeyPrefix + batch)).toBe('c')
    const confirmed = await redis.pttl(batchKeyPrefix + batch)
    expect(confirmed).toBeGreaterThan(3_599_000)
    expect(confirmed).toBeLessThanOrEqual(3_600_000)
  })

  it('confirms a whole claim batch with one write, whatever its size', async () => {
    const client = connect()
    const store = createRedisDedupeStore({ redis: client, ttlSeconds: 60, reservationSeconds: 5, keyPrefix: prefix, batchKeyPrefix })
    const batch = Array.from({ length: 100 }, () => claim())
    const receipt = await value(store.claim(batch))
    const monitor = await connect().monitor()
    const writes: string[] = []
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source === 'lua') writes.push(args[0]!.toLowerCase())
    })
    await sleep(50)
    await done(store.confirm([receipt]))
    await client.echo('confirmed')
    await sleep(200)
    await monitor.disconnect()
    expect(writes).toEqual(['set'])
    expect((await value(store.claim(batch))).statuses).toEqual(batch.map(() => 'duplicate'))
  })

  it('confirms and releases several claim batches in one call (inserts merged under load)', async () => {
    const store = createRedisDedupeStore({ redis, ttlSeconds: 60, reservationSeconds: 5, keyPrefix: prefix, batchKeyPrefix })
    const [a, b, c] = [[claim(), claim()], [claim()], [claim(), claim()]]
    const [ra, rb, rc] = [await value(store.claim(a)), await value(store.claim(b)), await value(store.claim(c))]
    await done(store.confirm([ra, rb]))
    await done(store.release([rc]))
    expect((await value(store.claim([...a, ...b, ...c]))).statuses).toEqual(['duplicate', 'duplicate', 'duplicate', 'new', 'new'])
  })

  it('reads the layout of earlier versions (p:/c: values) as reserved and committed', async () => {
    const store = createRedisDedupeStore({ redis, ttlSeconds: 60, reservationSeconds: 5, keyPrefix: prefix, batchKeyPrefix })
    const [reserved, committed, other] = [claim(), claim(), claim()]
    await redis.set(prefix + reserved.id, 'p:fp-a', 'EX', 60)
    await redis.set(prefix + committed.id, 'c:fp-a', 'EX', 60)
    await redis.set(prefix + other.id, 'c:fp-b', 'EX', 60)
    expect((await value(store.claim([reserved, committed, other]))).statuses).toEqual(['pending', 'duplicate', 'conflict'])
  })

  it('sends exactly one command per claim, confirm and release, whatever the batch size', async () => {
    const client = connect()
    const store = createRedisDedupeStore({ redis: client, ttlSeconds: 60, reservationSeconds: 5, keyPrefix: prefix, batchKeyPrefix })
    const monitor = await connect().monitor()
    const seen: string[][] = []
    // MONITOR also reports the commands a script runs (source 'lua'): those are not round trips.
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua') seen.push(args)
    })
    // MONITOR reports in order, so everything between two markers came from the calls between them.
    const between = async (marker: string, work: () => Promise<unknown>) => {
      await client.echo(`${marker}:start`)
      await work()
      await client.echo(`${marker}:end`)
      while (!seen.some((args) => args[1] === `${marker}:end`)) await sleep(10)
      const start = seen.findIndex((args) => args[1] === `${marker}:start`)
      const end = seen.findIndex((args) => args[1] === `${marker}:end`)
      return seen.slice(start + 1, end).map((args) => args[0]!.toLowerCase())
    }
    const batch = Array.from({ length: 50 }, () => claim())
    let first!: ClaimReceipt
    let second!: ClaimReceipt
    expect(await between('claim', async () => (first = await value(store.claim(batch.slice(0, 25)))))).toEqual([expect.stringMatching(/^eval(sha)?$/)])
    expect(await between('claim-again', async () => (second = await value(store.claim(batch.slice(25)))))).toEqual(['evalsha'])
    expect(await between('confirm', () => done(store.confirm([first])))).toEqual([expect.stringMatching(/^eval(sha)?$/)])
    expect(await between('release', () => done(store.release([second])))).toEqual([expect.stringMatching(/^eval(sha)?$/)])
    expect(await between('empty', () => value(store.claim([])))).toEqual([])
    await monitor.disconnect()
  })

  it('keeps working after Redis forgets its scripts (SCRIPT FLUSH, a restart)', async () => {
    const store = createRedisDedupeStore({ redis, ttlSeconds: 60, reservationSeconds: 5, keyPrefix: prefix, batchKeyPrefix })
    const one = claim()
    await value(store.claim([one]))
    await redis.script('FLUSH')
    expect((await value(store.claim([one]))).statuses).toEqual(['pending'])
  })

  it('fails the claim, not the process, when Redis cannot be reached', async () => {
    const down = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    down.on('error', () => {})
    const store = createRedisDedupeStore({ redis: down, ttlSeconds: 60, reservationSeconds: 5 })
    await expect(value(store.claim([claim()]))).rejects.toThrow()
    down.disconnect()
  })
})
