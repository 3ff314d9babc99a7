import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { createMemoryDedupeStore } from '../../src/adapters/memory/memory-dedupe-store.js'
import { createHttpApp } from '../../src/http/app.js'
import { clickHouseCheck } from '../../src/app/readiness.js'
import { createPipeline } from '../../src/streams/pipeline.js'
import { createMemoryStorage } from '../../src/testing.js'
import { fakeSluice, silent, uniqueId } from '../support/services.js'

let sluice: Awaited<ReturnType<typeof fakeSluice>>
beforeAll(async () => {
  sluice = await fakeSluice()
})
afterAll(() => sluice.dispose())

type Ready = {
  status: string
  checks: Record<string, { status: string; backend: string; error?: string }>
}

describe('GET /ready', () => {
  it('answers 200 when the dedupe store and storage both answer, naming each backend', async () => {
    const response = await sluice.app.request('/ready')
    expect(response.status).toBe(200)
    const body = (await response.json()) as Ready
    expect(body.status).toBe('ready')
    expect(body.checks).toEqual({
      redis: { status: 'ok', backend: 'in-process', latencyMs: expect.any(Number) },
      clickhouse: { status: 'ok', backend: 'given sink', latencyMs: expect.any(Number) },
    })
  })

  it('answers 503 naming ClickHouse when it cannot be reached, within the timeout', async () => {
    const unreachable = createMemoryStorage({ down: () => true })
    const pipeline = createPipeline(
      {
        insertBatchMaxRows: 10,
        insertBatchMaxWaitMs: 5,
        insertConcurrency: 1,
        maxInflightEvents: 100,
        retry: { initialMs: 1, maxMs: 1, budgetMs: 0 },
      },
      {
        sink: unreachable,
        store: createMemoryDedupeStore({ ttlSeconds: 60, reservationSeconds: 60, maxEntries: 10 }),
      },
    )
    const checks = [
      { name: 'redis', backend: 'in-process', check: async () => {} },
      clickHouseCheck(unreachable, 'clickhouse server'),
      { name: 'slow', backend: 'test', check: () => new Promise<void>(() => {}) },
    ]
    const app = createHttpApp(
      { batchMaxEvents: 10, maxBodyBytes: 1024, readyTimeoutMs: 200 },
      { pipeline, logger: silent, checks },
    )
    const response = await app.request('/ready')
    expect(response.status).toBe(503)
    const body = (await response.json()) as Ready
    expect(body.status).toBe('unavailable')
    expect(body.checks.redis!.status).toBe('ok')
    expect(body.checks.clickhouse).toMatchObject({
      status: 'fail',
      error: 'ClickHouse does not answer its ping',
    })
    expect(body.checks.slow).toMatchObject({ status: 'fail', error: 'no answer within 200 ms' })
    await pipeline.drain()
  })

  it('answers 503 naming Redis when it cannot be reached', async () => {
    // A client of a port nobody listens on: what a Redis that went away looks like to Sluice.
    const redis = new Redis('redis://127.0.0.1:1', { maxRetriesPerRequest: 1, lazyConnect: true })
    redis.on('error', () => {})
    const deadRedis = await fakeSluice({}, silent, { redis })
    try {
      const response = await deadRedis.app.request('/ready')
      expect(response.status).toBe(503)
      const body = (await response.json()) as Ready
      expect(body.checks.redis).toMatchObject({ status: 'fail', backend: 'redis' })
      expect(body.checks.clickhouse!.status).toBe('ok')
    } finally {
      await deadRedis.dispose()
      redis.disconnect()
    }
  })
})

describe('GET /metrics', () => {
  it('exports events by transport and status, commits, lag, in-flight and process metrics in Prometheus text format', async () => {
    const id = uniqueId()
    const events = [{ id, type: 'm' }, { id, type: 'm' }, { type: 'bad type' }]
    await sluice.app.request('/v1/events/batch', {
      method: 'POST',
      body: JSON.stringify({ events }),
      headers: { 'content-type': 'application/json' },
    })
    const response = await sluice.app.request('/metrics')
    expect(response.headers.get('content-type')).toContain('text/plain')
    const text = await response.text()
    const value = (series: string) =>
      Number(new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1])
    expect(value('sluice_events_total{transport="rest",status="accepted"}')).toBeGreaterThanOrEqual(
      1,
    )
    expect(
      value('sluice_events_total{transport="rest",status="duplicate"}'),
    ).toBeGreaterThanOrEqual(1)
    expect(value('sluice_events_total{transport="rest",status="rejected"}')).toBeGreaterThanOrEqual(
      1,
    )
    expect(value('sluice_rows_committed_total')).toBeGreaterThanOrEqual(1)
    expect(value('sluice_batches_committed_total')).toBeGreaterThanOrEqual(1)
    expect(value('sluice_ingest_lag_seconds_count')).toBeGreaterThanOrEqual(1)
    expect(value('sluice_insert_duration_seconds_count')).toBeGreaterThanOrEqual(1)
    expect(value('sluice_events_in_flight')).toBe(0)
    expect(
      value('sluice_http_requests_total{route="/v1/events/batch",status="200"}'),
    ).toBeGreaterThanOrEqual(1)
    for (const name of [
      'sluice_insert_retries_total',
      'sluice_duplicates_total',
      'sluice_admission_pauses_total',
      'sluice_ws_connections',
      'sluice_route_deliveries_total',
      'process_cpu_seconds_total',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(text).toContain(`# TYPE ${name}`)
    }
  })
})
