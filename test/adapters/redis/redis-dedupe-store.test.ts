import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createInstanceLease,
  type InstanceLease,
} from '../../../src/adapters/redis/instance-lease.js'
import { createRedisDedupeStore } from '../../../src/adapters/redis/redis-dedupe-store.js'
import type { Claim, ClaimReceipt } from '../../../src/streams/ports.js'
import { dedupeStoreContract } from '../../contracts/dedupe-store.contract.js'
import { sleep, until } from '../../support/wait.js'
import { monitorRedis } from '../../support/redis-monitor.js'
import { done, value } from '../../support/observables.js'

// A real Redis (scripts/services.sh starts one); every key of this run lives under its own prefix.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = `sluice:test:${randomUUID()}:`
const batchKeyPrefix = `${prefix}batch:`
const leaseKeyPrefix = `${prefix}lease:`
const clients: Redis[] = []
const leases: InstanceLease[] = []

/** A started lease on `client`, as one Sluice process keeps it (short, so that tests can outlast it). */
function startLease(client: Redis, ttlMs = 1000): InstanceLease {
  const lease = createInstanceLease({ redis: client, ttlMs, keyPrefix: leaseKeyPrefix })
  leases.push(lease)
  lease.start()
  return lease
}

/** A store on this file's own keys; `lease` names the instance that owns its claims. */
function storeOn(
  client: Redis,
  options: { ttlSeconds?: number; reservationSeconds: number; lease?: InstanceLease },
) {
  return createRedisDedupeStore({
    redis: client,
    ttlSeconds: options.ttlSeconds ?? 60,
    reservationSeconds: options.reservationSeconds,
    ...(options.lease && { lease: options.lease }),
    keyPrefix: prefix,
    batchKeyPrefix,
  })
}

/** What a kill -9 does to an instance: its connection goes, and nothing refreshes or deletes its lease. */
async function die(client: Redis, lease: InstanceLease): Promise<void> {
  client.disconnect()
  await until(
    async () => (await redis.exists(leaseKeyPrefix + lease.id)) === 0,
    10_000,
    "the dead instance's lease lapsed",
    20,
  )
}

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
  await Promise.all(leases.map((lease) => lease.stop()))
  const keys = await redis.keys(`${prefix}*`)
  for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000))
  // Killed instances' clients are disconnected already.
  await Promise.all(clients.map((client) => client.quit().catch(() => {})))
})

dedupeStoreContract('redis dedupe store', ({ ttlSeconds, reservationSeconds, leaseMs }) => {
  const instance = (client: Redis, lease: InstanceLease) =>
    createRedisDedupeStore({
      redis: client,
      ttlSeconds,
      reservationSeconds,
      lease,
      keyPrefix: `${prefix}id:`,
      batchKeyPrefix,
    })
  // Its own connection, so that killing it leaves the other instances' alone.
  const own = connect()
  const lease = startLease(own, leaseMs)
  return {
    store: instance(own, lease),
    peer: instance(redis, startLease(redis, leaseMs)),
    elapse: sleep,
    async kill() {
      await die(own, lease)
      return instance(redis, startLease(redis, leaseMs))
    },
  }
})

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

  it('keeps every id under its own UTF-8 key, whatever its characters and length (ids packed into one argument)', async () => {
    const store = storeOn(redis, { reservationSeconds: 5 })
    const run = randomUUID()
    // ASCII, Latin-1, three-byte and astral characters, separators Lua patterns treat specially,
    // and an id of 128 three-byte units (384 bytes), the longest API.md §1 lets through.
    const ids = [
      `${run}-a`,
      `${run}-é`,
      `${run}-日本`,
      `${run}-😀`,
      `${run}-:%.\0\n`,
      `日`.repeat(92) + run,
    ]
    const claims = ids.map((id, i) => ({ id, fingerprint: `fp-${i}-ü` }))
    const first = await value(store.claim(claims))
    expect(first.statuses).toEqual(ids.map(() => 'new'))
    for (const [i, id] of ids.entries())
      expect((await redis.get(prefix + id))?.split(':').slice(1).join(':')).toBe(`fp-${i}-ü`)
    await done(store.confirm([first]))
    // The same ids again: the same fingerprints are duplicates, another is a conflict.
    const again = claims.map((claim, i) =>
      i % 2 === 0 ? claim : { ...claim, fingerprint: 'other' },
    )
    expect((await value(store.claim(again))).statuses).toEqual(
      ids.map((_, i) => (i % 2 === 0 ? 'duplicate' : 'conflict')),
    )
  })

  it('keeps each id for the full TTL, and its claim batch reserved for reservationSeconds, then committed for the TTL', async () => {
    const store = storeOn(redis, { ttlSeconds: 3600, reservationSeconds: 30 })
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
    const store = storeOn(client, { reservationSeconds: 5 })
    const batch = Array.from({ length: 100 }, () => claim())
    const receipt = await value(store.claim(batch))
    const monitor = await monitorRedis(REDIS_URL)
    const writes: string[] = []
    const marker = `confirmed-${randomUUID()}`
    let seenMarker = false
    // Only this test's keys: other test files run scripts on the same Redis at the same time.
    monitor.on((args, source) => {
      if (args[0]?.toLowerCase() === 'echo' && args[1] === marker) seenMarker = true
      if (source === 'lua' && (args[1]!.startsWith(prefix) || args[1]!.startsWith(batchKeyPrefix)))
        writes.push(args[0]!.toLowerCase())
    })
    await done(store.confirm([receipt]))
    // The echo runs after the confirm's script on the same connection: seen, every write was seen.
    await client.echo(marker)
    await until(() => seenMarker, 10_000, 'the marker in MONITOR')
    monitor.close()
    expect(writes).toEqual(['set'])
    expect((await value(store.claim(batch))).statuses).toEqual(batch.map(() => 'duplicate'))
  })

  it('confirms and releases several claim batches in one call (inserts merged under load)', async () => {
    const store = storeOn(redis, { reservationSeconds: 5 })
    const [a, b, c] = [[claim(), claim()], [claim()], [claim(), claim()]]
    const [ra, rb, rc] = [
      await value(store.claim(a)),
      await value(store.claim(b)),
      await value(store.claim(c)),
    ]
    await done(store.confirm([ra, rb]))
    await done(store.release([rc]))
    expect((await value(store.claim([...a, ...b, ...c]))).statuses).toEqual([
      'duplicate',
      'duplicate',
      'duplicate',
      'new',
      'new',
    ])
  })

  it('reads the layout of earlier versions (p:/c: values) as reserved and committed', async () => {
    const store = storeOn(redis, { reservationSeconds: 5 })
    const [reserved, committed, other] = [claim(), claim(), claim()]
    await redis.set(prefix + reserved.id, 'p:fp-a', 'EX', 60)
    await redis.set(prefix + committed.id, 'c:fp-a', 'EX', 60)
    await redis.set(prefix + other.id, 'c:fp-b', 'EX', 60)
    expect((await value(store.claim([reserved, committed, other]))).statuses).toEqual([
      'pending',
      'duplicate',
      'conflict',
    ])
  })

  it("names the instance in each batch it claims, and keeps an id's value within what Redis stores inline", async () => {
    const lease = startLease(redis)
    const store = storeOn(redis, { reservationSeconds: 5, lease })
    // A real fingerprint: 27 characters of base64url (sha1).
    const one = claim('x'.repeat(27))
    await value(store.claim([one]))
    expect(await redis.get(prefix + one.id)).toMatch(
      new RegExp(`^${lease.id}\\.[0-9a-z]{1,7}:x{27}$`),
    )
    expect(await redis.object('ENCODING', prefix + one.id)).toBe('embstr')
  })

  it("never takes over its own instance's reservations, even while its lease has lapsed", async () => {
    // Never started: the lease is as lapsed as a dead process's (Redis lost it, or it could not be refreshed).
    const lease = createInstanceLease({ redis, keyPrefix: leaseKeyPrefix })
    const store = storeOn(redis, { reservationSeconds: 600, lease })
    const one = claim()
    expect((await value(store.claim([one, one]))).statuses).toEqual(['new', 'pending'])
    expect((await value(store.claim([one]))).statuses).toEqual(['pending'])
  })

  it(
    'keeps what a dead instance committed: a duplicate, or a conflict with other content',
    { timeout: 20_000 },
    async () => {
      const client = connect()
      const lease = startLease(client)
      const dead = storeOn(client, { reservationSeconds: 600, lease })
      const [same, other] = [claim(), claim()]
      await done(dead.confirm([await value(dead.claim([same, other]))]))
      await die(client, lease)
      const next = storeOn(redis, { reservationSeconds: 600, lease: startLease(redis) })
      expect((await value(next.claim([same, { ...other, fingerprint: 'fp-b' }]))).statuses).toEqual(
        ['duplicate', 'conflict'],
      )
    },
  )

  it('leaves an id taken over alone when its first owner, alive after all, confirms or releases it late', async () => {
    const store = (lease: InstanceLease) => storeOn(redis, { reservationSeconds: 600, lease })
    // A stalls past its lease (a long pause): its lease is gone, its process is not.
    const stalled = startLease(redis)
    const a = store(stalled)
    const [confirmed, released, kept] = [claim(), claim(), claim()]
    const early = await value(a.claim([confirmed, kept]))
    const earlyReleased = await value(a.claim([released]))
    await stalled.stop()
    const b = store(startLease(redis))
    const taken = await value(b.claim([confirmed, released]))
    expect(taken.statuses).toEqual(['new', 'new'])
    await done(a.confirm([early]))
    await done(a.release([earlyReleased]))
    const c = store(startLease(redis))
    // confirmed and released are B's reservations now; kept stayed A's and is committed.
    expect((await value(c.claim([confirmed, released, kept]))).statuses).toEqual([
      'pending',
      'pending',
      'duplicate',
    ])
    await done(b.release([taken]))
    expect((await value(c.claim([confirmed, released]))).statuses).toEqual(['new', 'new'])
  })

  it('reads a reservation of a batch that names no owner (before leases) as pending until it expires', async () => {
    const store = storeOn(redis, { reservationSeconds: 5, lease: startLease(redis) })
    const one = claim()
    await redis.set(batchKeyPrefix + 'AAAAAAAAAAAAAAAA', 'p', 'EX', 60)
    await redis.set(prefix + one.id, 'AAAAAAAAAAAAAAAA:fp-a', 'EX', 60)
    expect((await value(store.claim([one]))).statuses).toEqual(['pending'])
  })

  it(
    "reads a dead owner's batch and lease once per claim, however many of its ids the claim meets",
    { timeout: 20_000 },
    async () => {
      const client = connect()
      const lease = startLease(client)
      const dead = storeOn(client, { reservationSeconds: 600, lease })
      const batch = Array.from({ length: 100 }, () => claim())
      await value(dead.claim(batch))
      await die(client, lease)
      const next = storeOn(redis, { reservationSeconds: 600, lease: startLease(redis) })
      const monitor = await monitorRedis(REDIS_URL)
      const reads: string[] = []
      const marker = `claimed-${randomUUID()}`
      let seenMarker = false
      monitor.on((args, source) => {
        if (args[0]?.toLowerCase() === 'echo' && args[1] === marker) seenMarker = true
        if (
          source === 'lua' &&
          (args[1]!.startsWith(batchKeyPrefix) || args[1]!.startsWith(leaseKeyPrefix))
        )
          reads.push(args[0]!.toLowerCase())
      })
      expect((await value(next.claim(batch))).statuses).toEqual(batch.map(() => 'new'))
      // Redis runs the echo after the claim's script on the same connection: once MONITOR has shown
      // it, it has shown every command of the script (however slow the machine is).
      await redis.echo(marker)
      await until(() => seenMarker, 10_000, 'the marker in MONITOR')
      monitor.close()
      // The new batch's own state is written once; the dead batch's state and its owner's lease are read once.
      expect(reads.sort()).toEqual(['exists', 'get', 'set'])
    },
  )

  it('sends exactly one command per claim, confirm and release, whatever the batch size', async () => {
    const client = connect()
    const store = storeOn(client, { reservationSeconds: 5 })
    const monitor = await monitorRedis(REDIS_URL)
    const seen: string[][] = []
    await client.ping()
    const own = `:${(client as unknown as { stream: { localPort: number } }).stream.localPort}`
    // MONITOR also reports the commands a script runs (source 'lua'): those are not round trips.
    // Nor are the commands of other clients (other test files share this Redis): only this client's count.
    monitor.on((args, source) => {
      if (source.endsWith(own)) seen.push(args)
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
    expect(
      await between('claim', async () => (first = await value(store.claim(batch.slice(0, 25))))),
    ).toEqual([expect.stringMatching(/^eval(sha)?$/)])
    expect(
      await between(
        'claim-again',
        async () => (second = await value(store.claim(batch.slice(25)))),
      ),
    ).toEqual(['evalsha'])
    expect(await between('confirm', () => done(store.confirm([first])))).toEqual([
      expect.stringMatching(/^eval(sha)?$/),
    ])
    expect(await between('release', () => done(store.release([second])))).toEqual([
      expect.stringMatching(/^eval(sha)?$/),
    ])
    expect(await between('empty', () => value(store.claim([])))).toEqual([])
    monitor.close()
  })

  it('keeps working after Redis forgets its scripts (SCRIPT FLUSH, a restart)', async () => {
    const store = storeOn(redis, { reservationSeconds: 5 })
    const one = claim()
    await value(store.claim([one]))
    await redis.script('FLUSH')
    expect((await value(store.claim([one]))).statuses).toEqual(['pending'])
  })

  it('fails the claim, not the process, when Redis cannot be reached', async () => {
    const down = new Redis({
      host: '127.0.0.1',
      port: 1,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    })
    down.on('error', () => {})
    const store = createRedisDedupeStore({ redis: down, ttlSeconds: 60, reservationSeconds: 5 })
    await expect(value(store.claim([claim()]))).rejects.toThrow()
    down.disconnect()
  })
})
