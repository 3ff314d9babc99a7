import { randomUUID } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { from, lastValueFrom } from 'rxjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createClickHouseClient,
  createClickHouseSink,
  type ClickHouseSink,
} from '../../src/adapters/clickhouse/clickhouse-sink.js'
import { createClickHouseDeadLetters } from '../../src/adapters/clickhouse/clickhouse-dead-letters.js'
import type { AcceptedEvent } from '../../src/streams/event.js'
import { deadLetterStoreContract } from '../contracts/dead-letter-store.contract.js'
import { eventSinkContract } from '../contracts/event-sink.contract.js'
import {
  CLICKHOUSE_CLUSTER,
  SHARD_URLS,
  clusterDatabase,
  dropClusterDatabase,
  owningShards,
  shardRows,
  startClickHouseCluster,
} from './support/clickhouse-cluster.js'

// Two ClickHouse 18.16 servers as two shards of one cluster, with ZooKeeper (scripts/clickhouse-cluster.sh).
const database = clusterDatabase('cluster_sink')
const clients: ClickHouseClient[] = []
let admin: ClickHouseClient

async function clusterSink(url: string = SHARD_URLS[0], table?: string): Promise<ClickHouseSink> {
  const client = await createClickHouseClient({ url })
  return createClickHouseSink({
    client,
    database,
    cluster: CLICKHOUSE_CLUSTER,
    ...(table && { table }),
  })
}

beforeAll(async () => {
  startClickHouseCluster()
  admin = await createClickHouseClient({ url: SHARD_URLS[0] })
  clients.push(admin)
})
afterAll(async () => {
  await dropClusterDatabase(database)
  await Promise.all(clients.map((client) => client.close()))
})

eventSinkContract('ClickHouse cluster sink (2 shards, Distributed)', async () => {
  const sink = await clusterSink()
  await sink.start()
  const missingTable = await clusterSink(SHARD_URLS[0], 'no_such_table')
  const unreachable = createClickHouseSink({
    client: await createClickHouseClient({ url: 'http://127.0.0.1:1' }),
    database,
    cluster: CLICKHOUSE_CLUSTER,
  })
  return {
    sink,
    missingTable,
    unreachable,
    async mergeAll() {
      await admin.command({
        query: `OPTIMIZE TABLE \`${database}\`.raw_events_local ON CLUSTER ${CLICKHOUSE_CLUSTER} FINAL`,
      })
    },
    async close() {
      await Promise.all([missingTable.close(), unreachable.close()])
      await sink.close()
    },
  }
})

const write = (sink: ClickHouseSink, events: readonly AcceptedEvent[]) =>
  lastValueFrom(from(sink.write(events.map((event) => ({ event })))), { defaultValue: undefined })

const event = (id: string): AcceptedEvent => ({
  id,
  type: 'cluster.placement',
  timestamp: Date.now(),
  receivedAt: Date.now(),
  transport: 'rest',
})

describe('ClickHouse cluster sink', () => {
  it('creates the schema on every shard from either server, also when both start at once', async () => {
    const [a, b] = await Promise.all([clusterSink(SHARD_URLS[0]), clusterSink(SHARD_URLS[1])])
    await Promise.all([a.start(), b.start(), a.start()])
    for (const url of SHARD_URLS) {
      const client = await createClickHouseClient({ url })
      clients.push(client)
      const tables = await (
        await client.query({
          query: `SELECT name, engine FROM system.tables WHERE database = '${database}' ORDER BY name`,
          format: 'JSONEachRow',
        })
      ).json<{ name: string; engine: string }>()
      expect(tables).toEqual([
        { name: 'dead_letters', engine: 'Distributed' },
        { name: 'dead_letters_local', engine: 'ReplicatedMergeTree' },
        { name: 'raw_events', engine: 'Distributed' },
        { name: 'raw_events_local', engine: 'ReplicatedReplacingMergeTree' },
      ])
    }
    await Promise.all([a.close(), b.close()])
  })

  it("stores each id on the shard its cityHash64 names, acked only once it is there, and collapses a re-sent id's copies on that shard", async () => {
    const sink = await clusterSink(SHARD_URLS[1])
    await sink.start()
    const ids = Array.from({ length: 2000 }, (_, i) => `placement-${randomUUID()}-${i}`)
    // Acked: every row is on its shard already (insert_distributed_sync), nothing queued on disk.
    await write(sink, ids.map(event))
    const again = ids.slice(0, 300)
    await write(sink, again.map(event))
    const owners = await owningShards(ids)
    const shards = await shardRows(database)
    const onShards = [0, 0]
    for (const id of ids) {
      const owner = owners.get(id)!
      // Both copies of a re-sent id, or one once a background merge met them: on its shard either way.
      expect(shards[owner]!.get(id), id).toBeGreaterThanOrEqual(1)
      expect(shards[1 - owner]!.has(id), id).toBe(false)
      onShards[owner]!++
    }
    // Both shards hold a share.
    expect(Math.min(...onShards)).toBeGreaterThan(500)
    // Under FINAL each shard collapses its own copies: every id once, across the cluster.
    const final = await shardRows(database, 'raw_events_local', true)
    for (const id of again) expect(final[owners.get(id)!]!.get(id)).toBe(1)
    expect(await sink.count({ ids, final: true })).toBe(ids.length)
    await sink.close()
  })
})

describe('ClickHouse cluster dead letters', () => {
  let store: ReturnType<typeof createClickHouseDeadLetters>
  beforeAll(async () => {
    const client = await createClickHouseClient({ url: SHARD_URLS[0] })
    clients.push(client)
    store = createClickHouseDeadLetters({ client, database, cluster: CLICKHOUSE_CLUSTER })
    await store.start()
  })
  deadLetterStoreContract('clickhouse dead letters (cluster)', () => store, {
    failingStore: () =>
      createClickHouseDeadLetters({
        client: admin,
        database: `${database}_missing`,
        cluster: CLICKHOUSE_CLUSTER,
      }),
  })
})
