import { randomUUID } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, expect, it } from 'vitest'
import {
  createClickHouseDeadLetters,
  type ClickHouseDeadLetters,
} from '../../../src/adapters/clickhouse/clickhouse-dead-letters.js'
import { createClickHouseClient } from '../../../src/adapters/clickhouse/clickhouse-sink.js'
import { CLICKHOUSE_URL, dropDatabase } from '../../support/services.js'
import { deadLetterStoreContract } from '../../contracts/dead-letter-store.contract.js'

// The ClickHouse server of scripts/services.sh (Debian's 18.16 in CI), in a database of its own.
const database = `sluice_dl_${randomUUID().replace(/-/g, '').slice(0, 12)}`
let client: ClickHouseClient
let store: ClickHouseDeadLetters

beforeAll(async () => {
  client = await createClickHouseClient({ url: CLICKHOUSE_URL })
  store = createClickHouseDeadLetters({ client, database })
  await store.start()
})
afterAll(async () => {
  await client.close()
  await dropDatabase(database)
})

deadLetterStoreContract('clickhouse dead letters (server)', () => store, {
  failingStore: () => createClickHouseDeadLetters({ client, database: `${database}_missing` }),
})

it('calls a lost connection retriable', () => {
  expect(
    store.isRetriable(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
  ).toBe(true)
})
