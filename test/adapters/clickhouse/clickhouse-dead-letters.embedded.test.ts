import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { afterAll, beforeAll, expect } from 'vitest'
import {
  createClickHouseDeadLetters,
  type ClickHouseDeadLetters,
} from '../../../src/adapters/clickhouse/clickhouse-dead-letters.js'
import { createClickHouseClient } from '../../../src/adapters/clickhouse/clickhouse-sink.js'
import { deadLetterStoreContract } from '../../contracts/dead-letter-store.contract.js'

// Embedded ClickHouse (chDB): current ClickHouse, so DateTime64 times. One data directory per process.
let dir: string
let client: ClickHouseClient
let store: ClickHouseDeadLetters

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-chdb-dl-'))
  client = await createClickHouseClient({ dataDir: dir })
  store = createClickHouseDeadLetters({ client, database: 'sluice' })
  expect(await store.start()).toBe('datetime64')
})
afterAll(async () => {
  await client.close()
  await rm(dir, { recursive: true, force: true })
})

deadLetterStoreContract('clickhouse dead letters (embedded chDB)', () => store, {
  failingStore: () => createClickHouseDeadLetters({ client, database: 'missing' }),
})
