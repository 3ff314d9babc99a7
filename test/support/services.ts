import { randomUUID } from 'node:crypto'
import pino, { type Logger } from 'pino'
import { createClickHouseClient } from '../../src/adapters/clickhouse/clickhouse-sink.js'
import { loadConfig } from '../../src/app/config.js'
import { createSluice, type Sluice, type SluiceDeps } from '../../src/app/create-sluice.js'
import {
  createMemoryDeadLetters,
  createMemoryStorage,
  type MemoryStorage,
} from '../../src/testing.js'

/** Real servers, as scripts/services.sh brings them up (or as the environment points to). */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
export const CLICKHOUSE_URL = process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123'

/** A prefix that keeps this run's ids apart from every other run's (dedupe keys in Redis are global). */
export const uniqueId = (label = 't') => `${label}-${randomUUID()}`

export const silent = pino({ level: 'silent' })

/** A Sluice on a real Redis and a real ClickHouse server, in a database of its own. */
export async function serverSluice(
  env: Record<string, string> = {},
  logger: Logger = silent,
  deps: Omit<SluiceDeps, 'logger'> = {},
): Promise<Sluice & { database: string; dispose(): Promise<void> }> {
  const database = `sluice_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`
  const config = loadConfig({
    REDIS_URL,
    CLICKHOUSE_URL,
    CLICKHOUSE_DATABASE: database,
    INSERT_BATCH_MAX_WAIT_MS: '5',
    LOG_LEVEL: 'silent',
    WS_PORT: '0',
    ...env,
  })
  const sluice = await createSluice(config, { ...deps, logger })
  return {
    ...sluice,
    database,
    async dispose() {
      await sluice.stop()
      await dropDatabase(database)
    },
  }
}

/**
 * A Sluice on the fakes of sluice/testing: events stored in memory, the in-process dedupe store,
 * dead letters in memory. For tests of HTTP and WebSocket behaviour, which no storage server
 * changes; `deps` replaces any of them (a Redis client, a failing storage, a fake delivery…).
 */
export async function fakeSluice(
  env: Record<string, string> = {},
  logger: Logger = silent,
  deps: Omit<SluiceDeps, 'logger'> = {},
): Promise<Sluice & { storage: MemoryStorage; dispose(): Promise<void> }> {
  const storage = createMemoryStorage()
  const config = loadConfig({
    INSERT_BATCH_MAX_WAIT_MS: '5',
    LOG_LEVEL: 'silent',
    WS_PORT: '0',
    ...env,
  })
  const sluice = await createSluice(config, {
    sink: storage,
    deadLetters: createMemoryDeadLetters(),
    ...deps,
    logger,
  })
  return { ...sluice, storage, dispose: () => sluice.stop() }
}

export async function dropDatabase(database: string): Promise<void> {
  const admin = await createClickHouseClient({ url: CLICKHOUSE_URL })
  await admin.command({ query: `DROP DATABASE IF EXISTS \`${database}\`` })
  await admin.close()
}
