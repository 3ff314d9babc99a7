import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { CLICKHOUSE_URL, dropDatabase } from '../support/services.js'
import { launch, metric, watch, type Instance } from './support/instance.js'
import {
  eventSource,
  Ledger,
  post,
  resendUntilSettled,
  restWorker,
  sleep,
  wsWorker,
} from './support/load.js'
import { startPrivateRedis, type PrivateServer } from './support/private-servers.js'
import { privateDatabase, readStored } from './support/stored.js'

// Issue 7.2: Redis stops under load and starts again (empty: a private redis-server without
// persistence, on its own port — the shared one on 6379 serves other test files). Two Sluice
// processes on it: one with the default DEDUPE_ON_ERROR=open, one with DEDUPE_ON_ERROR=reject.

let redis: PrivateServer | undefined
const instances: Instance[] = []
const databases: string[] = []
afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.stop('SIGKILL')))
  await redis?.dispose()
  await Promise.all(databases.map(dropDatabase))
})

async function start(onError: 'open' | 'reject') {
  const database = privateDatabase(`redis_${onError}`)
  databases.push(database)
  const instance = await launch({
    REDIS_URL: redis!.url,
    CLICKHOUSE_URL,
    CLICKHOUSE_DATABASE: database,
    DEDUPE_ON_ERROR: onError,
    INSERT_BATCH_MAX_WAIT_MS: '10',
    DEDUPE_TTL_SECONDS: '600',
  })
  instances.push(instance)
  return {
    instance,
    database,
    ledger: new Ledger(),
    next: eventSource(`redis-${onError}-${randomUUID()}`, `outage.redis.${onError}`),
  }
}

describe('a Redis outage under load', () => {
  it('keeps ingesting (fail open, counted; or failed under DEDUPE_ON_ERROR=reject), reconnects, loses nothing, and collapses duplicates sent meanwhile', async () => {
    redis = await startPrivateRedis()
    const [open, reject] = await Promise.all([start('open'), start('reject')])
    let loading = true
    const running = () => loading
    const watchers = [watch(open.instance), watch(reject.instance)]
    const workers = [open, reject].flatMap(({ instance, ledger, next }) => [
      restWorker({
        url: instance.url,
        ledger,
        next: () => next(50),
        running,
        via: 'rest',
        pauseMs: 50,
      }),
      wsWorker({
        url: instance.wsUrl,
        ledger,
        next: () => next(25),
        running,
        via: 'ws',
        window: 6,
        intervalMs: 40,
      }),
    ])

    await sleep(1500)
    const outageStarted = Date.now()
    await redis.stop('SIGKILL')
    await sleep(1000)
    // The same ids twice while Redis is down: both copies are taken (nothing can tell them apart now).
    const twice = Array.from({ length: 50 }, (_, i) => ({
      id: `redis-twice-${randomUUID()}-${i}`,
      type: 'outage.redis.twice',
    }))
    const first = await post(open.instance.url, '/v1/events/batch', { events: twice })
    const second = await post(open.instance.url, '/v1/events/batch', { events: twice })
    await sleep(2000)
    const outageEnded = Date.now()
    await redis.start()
    // ioredis reconnects by itself: both instances' /ready see Redis again.
    const deadline = Date.now() + 20_000
    for (const { instance } of [open, reject]) {
      while ((await instance.ready()).body.checks.redis?.status !== 'ok') {
        expect(Date.now()).toBeLessThan(deadline)
        await sleep(100)
      }
    }
    await sleep(1500)
    loading = false
    await Promise.all(workers)
    const seen = await Promise.all(watchers.map((w) => w.stop()))
    for (const s of seen)
      expect(
        s.readyStatuses.some(
          (r) =>
            r.at > outageStarted + 500 &&
            r.at < outageEnded &&
            r.status === 503 &&
            r.redis === 'fail',
        ),
      ).toBe(true)

    // Fail open: every event was accepted, the store errors were counted, the copies sent twice
    // were both taken and collapse to one row each in the table engine.
    const openMetrics = await open.instance.metrics()
    console.info(
      `redis outage (open): ${open.ledger.events.size} events, ${metric(openMetrics, 'sluice_dedupe_store_errors_total', 'action="open"')} claims let through`,
    )
    expect(open.ledger.unexpected).toEqual([])
    expect(
      metric(openMetrics, 'sluice_dedupe_store_errors_total', 'operation="claim"', 'action="open"'),
    ).toBeGreaterThan(0)
    expect(
      [...open.ledger.events.keys()].filter((id) => open.ledger.last(id) !== 'accepted'),
    ).toEqual([])
    expect([first.status, second.status]).toEqual([200, 200])
    expect((first.body as { accepted: number }).accepted).toBe(50)
    expect((second.body as { accepted: number }).accepted).toBe(50)

    // Reconnected: dedupe works through Redis again.
    const again = { id: `redis-after-${randomUUID()}`, type: 'outage.redis.after' }
    expect((await post(open.instance.url, '/v1/events', again)).body).toMatchObject({
      status: 'accepted',
    })
    expect((await post(open.instance.url, '/v1/events', again)).body).toMatchObject({
      status: 'duplicate',
    })

    const stored = await readStored(CLICKHOUSE_URL, open.database)
    for (const id of open.ledger.events.keys()) expect(stored.final.get(id), id).toBe(1)
    for (const { id } of twice) expect(stored.final.get(id), id).toBe(1)
    expect(stored.finalRows).toBe(open.ledger.events.size + twice.length + 1)
    expect(stored.uniqueIds).toBe(stored.finalRows)

    // DEDUPE_ON_ERROR=reject: what could not be claimed settled failed and was not stored; sent
    // again after the outage it is accepted at once — also when ioredis sent the claim it had
    // given up on after the reconnect (the store queues a release behind it). Nothing is lost.
    const rejectMetrics = await reject.instance.metrics()
    expect(reject.ledger.unexpected).toEqual([])
    expect(
      metric(
        rejectMetrics,
        'sluice_dedupe_store_errors_total',
        'operation="claim"',
        'action="reject"',
      ),
    ).toBeGreaterThan(0)
    const failed = reject.ledger.unsettled()
    console.info(
      `redis outage (reject): ${reject.ledger.events.size} events, ${failed.length} failed`,
    )
    expect(failed.length).toBeGreaterThan(0)
    const before = await readStored(CLICKHOUSE_URL, reject.database)
    for (const id of failed) expect(before.final.get(id), id).toBeUndefined()
    expect(await resendUntilSettled(reject.instance.url, reject.ledger, failed, 'resend')).toEqual(
      [],
    )
    expect(failed.filter((id) => reject.ledger.last(id) !== 'accepted')).toEqual([])
    const after = await readStored(CLICKHOUSE_URL, reject.database)
    for (const id of reject.ledger.events.keys()) expect(after.final.get(id), id).toBe(1)
    expect(after.finalRows).toBe(reject.ledger.events.size)

    // Neither instance is left holding anything, and both stop cleanly.
    for (const { instance } of [open, reject]) {
      expect(metric(await instance.metrics(), 'sluice_events_in_flight')).toBe(0)
      expect(await instance.stop('SIGTERM')).toBe(0)
    }
  }, 90_000)
})
