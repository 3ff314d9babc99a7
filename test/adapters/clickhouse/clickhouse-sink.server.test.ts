import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createClickHouseClient,
  createClickHouseSink,
  type ClickHouseSink,
} from '../../../src/adapters/clickhouse/clickhouse-sink.js'
import { eventSinkContract } from '../../contracts/event-sink.contract.js'

// A real server (scripts/services.sh starts one): Debian's 18.16 in CI, any current one elsewhere.
const CLICKHOUSE_URL = process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123'
const database = `sluice_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`

async function serverSink(table?: string, url = CLICKHOUSE_URL): Promise<ClickHouseSink> {
  return createClickHouseSink({
    client: await createClickHouseClient({ url }),
    database,
    ...(table && { table }),
  })
}

eventSinkContract('ClickHouse server sink', async () => {
  const sink = await serverSink()
  await sink.start()
  const missingTable = await serverSink('no_such_table')
  const unreachable = await serverSink(undefined, 'http://127.0.0.1:1')
  const admin = await createClickHouseClient({ url: CLICKHOUSE_URL })
  return {
    sink,
    missingTable,
    unreachable,
    async mergeAll() {
      await admin.command({ query: `OPTIMIZE TABLE \`${database}\`.raw_events FINAL` })
    },
    async close() {
      await Promise.all([missingTable.close(), unreachable.close(), admin.close()])
      await sink.close()
    },
  }
})

describe('ClickHouse server sink', () => {
  let sink: ClickHouseSink
  beforeAll(async () => {
    sink = await serverSink()
  })
  afterAll(async () => {
    const admin = await createClickHouseClient({ url: CLICKHOUSE_URL })
    await admin.command({ query: `DROP DATABASE IF EXISTS \`${database}\`` })
    await admin.close()
    await sink.close()
  })

  it('creates the database and both tables, again and again, in the dialect of the server version', async () => {
    const first = await sink.start()
    const again = await sink.start()
    expect(again).toEqual(first)
    const major = Number(first.version.split('.')[0])
    expect(first.dialect).toBe(major >= 20 ? 'datetime64' : 'epoch-ms')
    const admin = await createClickHouseClient({ url: CLICKHOUSE_URL })
    const columns = await (
      await admin.query({
        query: `SELECT table, name, type FROM system.columns WHERE database = '${database}' ORDER BY table, name`,
        format: 'JSONEachRow',
      })
    ).json<{ table: string; name: string; type: string }>()
    await admin.close()
    const time = major >= 20 ? "DateTime64(3, 'UTC')" : 'UInt64'
    expect(
      columns
        .filter((c) => c.table === 'raw_events')
        .map((c) => [c.name, c.type.replace(/^LowCardinality\((.*)\)$/, '$1')]),
    ).toEqual([
      ['id', 'String'],
      ['properties', 'String'],
      ['received_at', time],
      ['session_id', 'String'],
      ['source', 'String'],
      ['timestamp', time],
      ['transport', 'String'],
      ['type', 'String'],
      ['user_id', 'String'],
    ])
    expect(columns.filter((c) => c.table === 'dead_letters').map((c) => c.name)).toEqual([
      'attempts',
      'error',
      'event',
      'route',
      'time',
    ])
  })

  it('answers ping with true when the server is up, false when it cannot be reached', async () => {
    expect(await sink.ping()).toBe(true)
    const down = await serverSink(undefined, 'http://127.0.0.1:1')
    expect(await down.ping()).toBe(false)
    await down.close()
  })
})

describe('ClickHouse server client', () => {
  it('gives up on a request past its timeout, and the sink calls that retriable', async () => {
    const client = await createClickHouseClient({ url: CLICKHOUSE_URL }, { requestTimeoutMs: 100 })
    const sink = createClickHouseSink({ client })
    const error = await client.query({ query: 'SELECT sleep(1)' }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(Error)
    expect(sink.isRetriable(error)).toBe(true)
    await sink.close()
  })
})
