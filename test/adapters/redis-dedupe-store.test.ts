import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { firstValueFrom, from, lastValueFrom, type ObservableInput } from 'rxjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedisDedupeStore } from '../../src/adapters/redis-dedupe-store.js'
import type { Claim } from '../../src/streams/ports.js'
import { dedupeStoreContract } from '../contracts/dedupe-store.contract.js'

// A real Redis (scripts/services.sh starts one); every key of this run lives under its own prefix.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = `sluice:test:${randomUUID()}:`
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
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

dedupeStoreContract('redis dedupe store', ({ ttlSeconds, reservationSeconds }) => ({
  store: createRedisDedupeStore({ redis, ttlSeconds, reservationSeconds, keyPrefix: prefix }),
  elapse: sleep,
}))

describe('redis dedupe store', () => {
  const claim = (fingerprint = 'fp-a'): Claim => ({ id: randomUUID(), fingerprint })

  it('keeps the default key layout sluice:dedupe:<id> (API.md §5)', async () => {
    const store = createRedisDedupeStore({ redis, ttlSeconds: 60, reservationSeconds: 5 })
    const one = claim()
    try {
      await value(store.claim([one]))
      expect(await redis.get(`sluice:dedupe:${one.id}`)).toBe('p:fp-a')
    } finally {
      await redis.del(`sluice:dedupe:${one.id}`)
    }
  })

  it('stores a reservation for reservationSeconds and a confirmed mark for the full TTL', async () => {
    const store = createRedisDedupeStore({ redis, ttlSeconds: 3600, reservationSeconds: 30, keyPrefix: prefix })
    const one = claim()
    await value(store.claim([one]))
    expect(await redis.get(prefix + one.id)).toBe('p:fp-a')
    const reserved = await redis.pttl(prefix + one.id)
    expect(reserved).toBeGreaterThan(29_000)
    expect(reserved).toBeLessThanOrEqual(30_000)
    await done(store.confirm([one]))
    expect(await redis.get(prefix + one.id)).toBe('c:fp-a')
    const confirmed = await redis.pttl(prefix + one.id)
    expect(confirmed).toBeGreaterThan(3_599_000)
    expect(confirmed).toBeLessThanOrEqual(3_600_000)
  })

  it('sends exactly one command per claim, confirm and release, whatever the batch size', async () => {
    const client = connect()
    const store = createRedisDedupeStore({ redis: client, ttlSeconds: 60, reservationSeconds: 5, keyPrefix: prefix })
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
    expect(await between('claim', () => value(store.claim(batch)))).toEqual([expect.stringMatching(/^eval(sha)?$/)])
    expect(await between('claim-again', () => value(store.claim(batch)))).toEqual(['evalsha'])
    expect(await between('confirm', () => done(store.confirm(batch.slice(0, 25))))).toEqual([expect.stringMatching(/^eval(sha)?$/)])
    expect(await between('release', () => done(store.release(batch.slice(25))))).toEqual([expect.stringMatching(/^eval(sha)?$/)])
    expect(await between('empty', () => value(store.claim([])))).toEqual([])
    await monitor.disconnect()
  })

  it('keeps working after Redis forgets its scripts (SCRIPT FLUSH, a restart)', async () => {
    const store = createRedisDedupeStore({ redis, ttlSeconds: 60, reservationSeconds: 5, keyPrefix: prefix })
    const one = claim()
    await value(store.claim([one]))
    await redis.script('FLUSH')
    expect(await value(store.claim([one]))).toEqual(['pending'])
  })

  it('fails the claim, not the process, when Redis cannot be reached', async () => {
    const down = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    down.on('error', () => {})
    const store = createRedisDedupeStore({ redis: down, ttlSeconds: 60, reservationSeconds: 5 })
    await expect(value(store.claim([claim()]))).rejects.toThrow()
    down.disconnect()
  })
})
