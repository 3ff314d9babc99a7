import { afterAll, describe, expect, it } from 'vitest'
import {
  Ledger,
  resendUntilSettled,
  restWorker,
  sleep,
  wsWorker,
} from '../reliability/support/load.js'
import { launch, metric, watch, type Instance } from '../reliability/support/instance.js'
import { privateDatabase, readStored } from '../reliability/support/stored.js'
import { CLICKHOUSE_URL, dropDatabase } from '../support/services.js'
import { until } from '../support/wait.js'
import { mixedSource } from './support/load.js'
import {
  REDIS_CLUSTER_NODES,
  connectCluster,
  redisPid,
  startRedisCluster,
} from './support/redis-cluster.js'

// A Sluice process on the Redis Cluster and the ClickHouse server of scripts/services.sh; under a
// REST and a WebSocket load with 10% re-sent ids, one Redis primary is killed (kill -9) and its
// replica takes over.

const database = privateDatabase('redis_failover')
let instance: Instance | undefined
afterAll(async () => {
  await instance?.stop('SIGKILL')
  await dropDatabase(database)
  // The killed node comes back as a replica of the one that took over.
  startRedisCluster()
})

describe('a Redis Cluster primary killed under load', () => {
  it('loses no accepted event: its replica takes over, dedupe fails open meanwhile, every id is stored once', async () => {
    startRedisCluster()
    instance = await launch({
      REDIS_URL: '',
      REDIS_CLUSTER_NODES,
      CLICKHOUSE_URL,
      CLICKHOUSE_DATABASE: database,
      INSERT_BATCH_MAX_WAIT_MS: '10',
      DEDUPE_TTL_SECONDS: '600',
    })
    const watcher = watch(instance, 200)
    const ledger = new Ledger()
    const next = mixedSource(ledger, `failover-${Date.now()}`, 'cluster.failover')
    let loading = true
    const running = () => loading
    const workers = [
      restWorker({
        url: instance.url,
        ledger,
        next: () => next(100),
        running,
        via: 'rest',
        pauseMs: 30,
      }),
      wsWorker({
        url: instance.wsUrl,
        ledger,
        next: () => next(50),
        running,
        via: 'ws',
        window: 4,
        intervalMs: 30,
      }),
    ]
    await sleep(2000)

    // The primary of slot 0, by the pid its script wrote.
    const cluster = connectCluster()
    await cluster.ping()
    const victim = cluster.slots[0]![0]!
    const port = Number(victim.split(':')[1])
    process.kill(redisPid(port), 'SIGKILL')
    // Its replica is promoted once the others agree it failed (cluster-node-timeout 2000 ms).
    await until(
      async () => {
        const nodes = String(
          await cluster
            .nodes('master')[0]!
            .call('CLUSTER', 'NODES')
            .catch(() => ''),
        )
        const owner = nodes
          .split('\n')
          .find((line) => / master /.test(line) && !line.includes('fail') && /\s0-\d+/.test(line))
        return owner !== undefined && !owner.includes(`:${port}@`)
      },
      30_000,
      'a replica took over slot 0',
      200,
    )
    await sleep(2000)
    loading = false
    await Promise.all(workers)
    await cluster.quit()
    // The other primaries answered throughout: the instance stayed ready for the balancer.
    const seen = await watcher.stop()
    expect(seen.readyStatuses.length).toBeGreaterThan(10)
    expect(seen.readyStatuses.filter((sample) => sample.redis !== 'ok')).toEqual([])

    expect(ledger.unexpected).toEqual([])
    // Whatever had no answer or failed is sent again, as a client would.
    expect(await resendUntilSettled(instance.url, ledger, ledger.unsettled(), 'resend')).toEqual([])
    const metrics = await instance.metrics()
    console.info(
      `redis failover: ${ledger.events.size} ids, ${ledger.ever('duplicate').length} answered duplicate, ${metric(metrics, 'sluice_dedupe_store_errors_total', 'operation="claim"', 'action="open"')} claims let through`,
    )
    // Every id was accepted at least once, and stored exactly once.
    for (const id of ledger.events.keys())
      expect(ledger.ever('accepted').includes(id) || ledger.last(id) === 'duplicate', id).toBe(true)
    const stored = await readStored(CLICKHOUSE_URL, database)
    expect(stored.finalRows).toBe(ledger.events.size)
    for (const id of ledger.events.keys()) expect(stored.final.get(id), id).toBe(1)
    // A duplicate is never said of an id that was not stored (checked above), and the re-sent ids were told apart.
    expect(ledger.ever('duplicate').length).toBeGreaterThan(0)
    expect(await instance.stop('SIGTERM')).toBe(0)
  }, 120_000)
})
