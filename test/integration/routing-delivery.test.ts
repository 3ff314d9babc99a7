import { randomUUID } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { firstValueFrom, from } from 'rxjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createClickHouseDeadLetters,
  type ClickHouseDeadLetters,
} from '../../src/adapters/clickhouse/clickhouse-dead-letters.js'
import { createClickHouseClient } from '../../src/adapters/clickhouse/clickhouse-sink.js'
import { createHttpDelivery } from '../../src/adapters/http-delivery/http-delivery.js'
import { createMemoryDedupeStore } from '../../src/adapters/memory/memory-dedupe-store.js'
import { createPipeline } from '../../src/streams/pipeline.js'
import { route, type Route } from '../../src/streams/routing/route.js'
import { createRouter, type RouterConfig } from '../../src/streams/routing/router.js'
import { createFakeSink } from '../../src/testing/fake-sink.js'
import { CLICKHOUSE_URL, dropDatabase } from '../support/services.js'
import { startDownstream, until } from '../support/downstream.js'
import { event } from '../streams/routing/fakes.js'

// Real local HTTP destinations, real HTTP delivery, dead letters in the real ClickHouse server.
const database = `sluice_route_${randomUUID().replace(/-/g, '').slice(0, 12)}`
let client: ClickHouseClient
let deadLetters: ClickHouseDeadLetters
const delivery = createHttpDelivery()
const cleanups: Array<() => Promise<void>> = []

beforeAll(async () => {
  client = await createClickHouseClient({ url: CLICKHOUSE_URL })
  deadLetters = createClickHouseDeadLetters({ client, database })
  await deadLetters.start()
})
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
  delivery.close()
  await client.close()
  await dropDatabase(database)
})

const quick = {
  batchMaxEvents: 20,
  batchMaxWaitMs: 10,
  backoffInitialMs: 5,
  backoffMaxMs: 50,
  timeoutMs: 2000,
}
async function router(routes: Route[], config: Partial<RouterConfig> = {}) {
  const created = createRouter(
    { routes, breaker: { coolDownMs: 50 }, ...config },
    { delivery, deadLetters },
  )
  await created.start()
  cleanups.push(() => created.drain({ flushMs: 100 }))
  return created
}
async function downstream(...args: Parameters<typeof startDownstream>) {
  const started = await startDownstream(...args)
  cleanups.push(started.close)
  return started
}
const listed = async (name: string) =>
  firstValueFrom(from(deadLetters.list({ route: name, limit: 10_000 })))
const events = (label: string, n: number) =>
  Array.from({ length: n }, (_, i) => event(`${label}-${i}`))

describe('routing to real HTTP destinations', () => {
  it('delivers every event at least once to a destination that fails half the time, each batch under one idempotency key', async () => {
    const flaky = await downstream(() => ({ status: Math.random() < 0.5 ? 500 : 200 }))
    const name = 'flaky'
    const r = await router([
      route({ name, match: ['*'], url: flaky.url, concurrency: 4, maxAttempts: 30, ...quick }),
    ])
    const sent = events('flaky', 1000)
    for (let i = 0; i < sent.length; i += 100) await r.enqueue(sent.slice(i, i + 100))
    await until(() => flaky.delivered.size === 1000)
    expect(flaky.requests.some((q) => q.status === 500)).toBe(true)
    // A retried batch is the same batch: the same key always carries the same events.
    const byKey = new Map<string, string>()
    for (const request of flaky.requests) {
      const ids = request.ids.join()
      expect(byKey.get(request.key) ?? ids).toBe(ids)
      byKey.set(request.key, ids)
    }
    expect(await listed(name)).toEqual([])
  })

  it('fills dead_letters while the destination is dead, and a replay delivers them once it is back', async () => {
    const dead = await downstream(() => ({ status: 503 }))
    const name = 'dead'
    const r = await router([
      route({ name, match: ['order.*'], url: dead.url, maxAttempts: 3, ...quick }),
    ])
    await r.enqueue([
      ...events('dead', 50).map((e) => ({ ...e, type: 'order.placed' })),
      event('not-matched'),
    ])
    await until(async () => (await listed(name)).length === 50)
    const letters = await listed(name)
    expect(letters[0]).toMatchObject({ route: name, error: 'HTTP 503', attempts: 3 })
    expect(letters[0]!.event.type).toBe('order.placed')

    dead.answer(() => ({ status: 200 }))
    expect(await r.replay(name)).toEqual({ replayed: 50 })
    await until(() => dead.delivered.size === 50)
    await until(async () => (await listed(name)).length === 0, 10_000, 'dead letters replayed', 100)
  })

  it('dead-letters a batch the destination refuses with a 4xx after one attempt', async () => {
    const strict = await downstream(() => ({ status: 422 }))
    const name = 'strict'
    const r = await router([route({ name, match: ['*'], url: strict.url, ...quick })])
    await r.enqueue(events('strict', 5))
    await until(async () => (await listed(name)).length === 5)
    expect(strict.requests).toHaveLength(1)
    expect((await listed(name)).map((l) => [l.error, l.attempts])).toEqual(
      Array(5).fill(['HTTP 422', 1]),
    )
  })

  it('honours a 429’s Retry-After', async () => {
    let first = true
    const limited = await downstream(() =>
      first ? ((first = false), { status: 429, headers: { 'retry-after': '1' } }) : { status: 200 },
    )
    const r = await router([route({ name: 'limited', match: ['*'], url: limited.url, ...quick })])
    await r.enqueue([event('limited-1')])
    await until(() => limited.delivered.size === 1)
    const [refused, taken] = limited.requests
    expect(taken!.at - refused!.at).toBeGreaterThanOrEqual(950)
  })

  it('keeps ingestion acks and other routes fast while one destination is slow', async () => {
    const slow = await downstream(() => ({ status: 200, delayMs: 3000 }))
    const fast = await downstream()
    const r = await router([
      route({
        name: 'slow',
        match: ['*'],
        url: slow.url,
        ...quick,
        concurrency: 1,
        batchMaxEvents: 10,
        timeoutMs: 10_000,
      }),
      route({ name: 'fast', match: ['*'], url: fast.url, ...quick }),
    ])
    const pipeline = createPipeline(
      {
        insertBatchMaxRows: 1000,
        insertBatchMaxWaitMs: 5,
        insertConcurrency: 4,
        maxInflightEvents: 100_000,
        retry: { initialMs: 10, maxMs: 100, budgetMs: 1000 },
      },
      {
        sink: createFakeSink(),
        store: createMemoryDedupeStore({
          ttlSeconds: 3600,
          reservationSeconds: 60,
          maxEntries: 100_000,
        }),
      },
    )
    r.follow(pipeline.accepted$)
    const latencies: number[] = []
    for (let batch = 0; batch < 20; batch++) {
      const started = Date.now()
      const results = await pipeline.submit(
        Array.from({ length: 50 }, (_, i) => ({ id: `acks-${batch}-${i}`, type: 'page_view' })),
        'rest',
      )!
      latencies.push(Date.now() - started)
      expect(results.every((result) => result.status === 'accepted')).toBe(true)
    }
    const lastAck = Date.now()
    await until(() => fast.delivered.size === 1000, 2000)
    expect(Date.now() - lastAck).toBeLessThan(1000)
    // The slow destination answers in 3 s: acks that waited for it in any way would show it.
    expect(Math.max(...latencies)).toBeLessThan(1000)
    expect(slow.delivered.size).toBeLessThanOrEqual(10) // one batch in flight, none answered yet
    expect(r.status().find((s) => s.route === 'slow')!.pending).toBeGreaterThan(900)
    await pipeline.drain()
  })

  it('without an outbox, persists at shutdown what it could not deliver, and sends it at the next start', async () => {
    const destination = await downstream(() => ({ status: 200, delayMs: 5000 }))
    const name = 'restart'
    const before = createRouter(
      {
        routes: [route({ name, match: ['*'], url: destination.url, ...quick, timeoutMs: 10_000 })],
      },
      { delivery, deadLetters },
    )
    await before.start()
    await before.enqueue(events('restart', 30))
    await before.drain({ flushMs: 100 })
    expect((await listed(name)).length).toBe(30)

    destination.answer(() => ({ status: 200 }))
    await router([route({ name, match: ['*'], url: destination.url, ...quick })])
    await until(() => destination.delivered.size === 30)
    await until(async () => (await listed(name)).length === 0, 10_000, 'dead letters replayed', 100)
  })
})
