import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createClickHouseClient,
  createClickHouseSink,
  type ClickHouseSink,
} from '../../src/adapters/clickhouse/clickhouse-sink.js'
import { createRedisDedupeStore } from '../../src/adapters/redis/redis-dedupe-store.js'
import { createHttpApp } from '../../src/http/app.js'
import { createPipeline, type PipelineConfig } from '../../src/streams/pipeline.js'
import type { EventSink } from '../../src/streams/ports.js'
import { CLICKHOUSE_URL, dropDatabase, REDIS_URL, silent, uniqueId } from '../support/services.js'

const database = `sluice_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`
const config: PipelineConfig = {
  insertBatchMaxRows: 1000,
  insertBatchMaxWaitMs: 5,
  insertConcurrency: 2,
  maxInflightEvents: 1000,
  retry: { initialMs: 20, maxMs: 100, budgetMs: 300 },
}
let redis: Redis
let good: ClickHouseSink
const closers: Array<() => Promise<unknown>> = []

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 })
  good = createClickHouseSink({
    client: await createClickHouseClient({ url: CLICKHOUSE_URL }),
    database,
  })
  await good.start()
})
afterAll(async () => {
  await Promise.all(closers.map((close) => close()))
  await good.close()
  await redis.quit()
  await dropDatabase(database)
})

/** A REST app over the real Redis store and the given sink, as the composition root would build it. */
function appOver(sink: EventSink) {
  const store = createRedisDedupeStore({ redis, ttlSeconds: 60, reservationSeconds: 30 })
  const pipeline = createPipeline(config, { sink, store })
  closers.push(() => pipeline.drain())
  return createHttpApp({ batchMaxEvents: 100, maxBodyBytes: 1 << 20 }, { pipeline, logger: silent })
}

const post = (app: ReturnType<typeof appOver>, path: string, body: unknown) =>
  app.request(path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  })

describe.each([
  [
    'refuses the batch (a table that does not exist: final, no retry)',
    async () =>
      createClickHouseSink({
        client: await createClickHouseClient({ url: CLICKHOUSE_URL }),
        database,
        table: 'no_such_table',
      }),
  ],
  [
    'cannot be reached past the retry budget (connection refused)',
    async () =>
      createClickHouseSink({
        client: await createClickHouseClient({ url: 'http://127.0.0.1:1' }),
        database,
      }),
  ],
])('a ClickHouse that %s', (_name, makeSink) => {
  it('fails the events, stores nothing, and accepts the same ids when they are sent again', async () => {
    const broken = await makeSink()
    closers.push(() => broken.close())
    const down = appOver(broken)
    const [a, b, c] = [uniqueId(), uniqueId(), uniqueId()]

    const single = await post(down, '/v1/events', { id: a, type: 'x' })
    expect(single.status).toBe(503)
    expect(single.headers.get('retry-after')).toMatch(/^\d+$/)
    expect(((await single.json()) as { error: { code: string } }).error.code).toBe(
      'storage_unavailable',
    )

    const mixed = await post(down, '/v1/events/batch', {
      events: [
        { id: b, type: 'x' },
        { id: b, type: 'x' },
        { id: c, type: 'bad type' },
      ],
    })
    expect(mixed.status).toBe(200)
    const body = (await mixed.json()) as {
      failed: number
      rejected: number
      results: Array<{ status: string }>
    }
    // The second copy of b follows the first: failed, never a duplicate of an event that was not stored.
    expect(body.results.map((r) => r.status)).toEqual(['failed', 'failed', 'rejected'])
    expect(body).toMatchObject({ failed: 2, rejected: 1 })
    expect(await good.count({ ids: [a, b, c] })).toBe(0)

    const up = appOver(good)
    const resent = await post(up, '/v1/events/batch', {
      events: [
        { id: a, type: 'x' },
        { id: b, type: 'x' },
      ],
    })
    expect(
      ((await resent.json()) as { results: Array<{ status: string }> }).results.map(
        (r) => r.status,
      ),
    ).toEqual(['accepted', 'accepted'])
    expect(await good.count({ ids: [a, b] })).toBe(2)
  }, 30_000)
})

describe('admission', () => {
  it('answers 503 overloaded with Retry-After, taking nothing, when a request would pass MAX_INFLIGHT_EVENTS', async () => {
    const store = createRedisDedupeStore({ redis, ttlSeconds: 60, reservationSeconds: 30 })
    const pipeline = createPipeline({ ...config, maxInflightEvents: 10 }, { sink: good, store })
    closers.push(() => pipeline.drain())
    const app = createHttpApp(
      { batchMaxEvents: 100, maxBodyBytes: 1 << 20 },
      { pipeline, logger: silent },
    )
    const ids = Array.from({ length: 11 }, () => uniqueId())
    const response = await post(app, '/v1/events/batch', {
      events: ids.map((id) => ({ id, type: 'x' })),
    })
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toBe('1')
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('overloaded')
    expect(pipeline.admission.inflight).toBe(0)
    // Nothing was marked seen: the same ids in a request that fits are accepted.
    const fits = await post(app, '/v1/events/batch', {
      events: ids.slice(0, 10).map((id) => ({ id, type: 'x' })),
    })
    expect(((await fits.json()) as { accepted: number }).accepted).toBe(10)
  })
})
