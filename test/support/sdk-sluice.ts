import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClickHouseClient } from '../../src/adapters/clickhouse/clickhouse-sink.js'
import { quoteIdentifier, quoteString } from '../../src/adapters/clickhouse/clickhouse-schema.js'
import { startProcess, type RunningSluice } from './process.js'
import { CLICKHOUSE_URL, dropDatabase, REDIS_URL } from './services.js'
import type { StoredEvent } from './sdk-messages.js'

/**
 * A Sluice process (`src/main.ts`, as `npm start` runs it) for the SDKs to send to, on one of the two
 * storages the README offers, with a named API key: the SDKs send the key their own way, and §3
 * says a named key sets the events' `source`.
 */

export const SOURCE = 'sdk-tests'
export const WRITE_KEY = `wk-${randomUUID()}`

export interface SdkSluice extends RunningSluice {
  /** starts it again on the same port and storage (after a crash) */
  restart(): Promise<SdkSluice>
  /**
   * every stored event (as GET /v1/events returns them) of the given types, by id; without types,
   * the newest 1000 of any type
   */
  stored(types?: readonly string[]): Promise<Map<string, StoredEvent[]>>
  /**
   * the rows stored with these ids before any merge (GET /v1/events reads under FINAL, which hides a
   * second insert); only on the ClickHouse server: embedded storage belongs to the running process
   */
  readonly rawRows?: (ids: readonly string[]) => Promise<number>
  dispose(): Promise<void>
}

interface Storage {
  readonly env: Record<string, string>
  remove(): Promise<void>
  rawRows?(ids: readonly string[]): Promise<number>
}

export interface Backend {
  readonly label: string
  start(): Promise<SdkSluice>
}

export const BACKENDS: readonly Backend[] = [
  {
    label: 'Redis and the ClickHouse server',
    async start() {
      const database = `sluice_sdk_${randomUUID().replace(/-/g, '').slice(0, 12)}`
      return launch({
        env: { REDIS_URL, CLICKHOUSE_URL, CLICKHOUSE_DATABASE: database },
        remove: () => dropDatabase(database),
        rawRows: (ids) => rawRows(database, ids),
      })
    },
  },
  {
    label: 'the embedded defaults',
    async start() {
      const dataDir = await mkdtemp(join(tmpdir(), 'sluice-sdk-'))
      // CLICKHOUSE_URL empty (read as unset): a CLICKHOUSE_URL in the runner's environment cannot switch it.
      return launch({
        env: { CLICKHOUSE_URL: '', DATA_DIR: dataDir },
        remove: () => rm(dataDir, { recursive: true, force: true }),
      })
    },
  },
]

async function rawRows(database: string, ids: readonly string[]): Promise<number> {
  const client = await createClickHouseClient({ url: CLICKHOUSE_URL })
  try {
    const table = `${quoteIdentifier(database)}.${quoteIdentifier('raw_events')}`
    const result = await client.query({
      query: `SELECT count() AS n FROM ${table} WHERE id IN (${ids.map(quoteString).join(', ')})`,
      format: 'JSONEachRow',
    })
    const [row] = await result.json<{ n: string | number }>()
    // 18.16 quotes 64-bit integers in JSON output
    return Number(row?.n ?? 0)
  } finally {
    await client.close()
  }
}

async function launch(storage: Storage): Promise<SdkSluice> {
  const env = { ...storage.env, API_KEYS: `${SOURCE}=${WRITE_KEY}` }
  return withHelpers(await startProcess(env), env, storage)
}

function withHelpers(
  running: RunningSluice,
  env: Record<string, string>,
  storage: Storage,
): SdkSluice {
  return Object.assign(running, {
    rawRows: storage.rawRows,
    async restart() {
      const port = new URL(running.url).port
      const again = await startProcess({ ...env, PORT: port })
      return withHelpers(again, env, storage)
    },
    async stored(types?: readonly string[]) {
      const byId = new Map<string, StoredEvent[]>()
      for (const type of types ?? [undefined]) {
        const query = new URLSearchParams({
          ...(type === undefined ? {} : { type }),
          limit: '1000',
        })
        const response = await fetch(`${running.url}/v1/events?${query.toString()}`, {
          headers: { authorization: `Bearer ${WRITE_KEY}` },
        })
        if (response.status !== 200)
          throw new Error(`GET /v1/events: ${response.status} ${await response.text()}`)
        const { events } = (await response.json()) as { events: StoredEvent[] }
        // a full page of one type may not hold them all: the tests stay under it
        if (type !== undefined && events.length === 1000)
          throw new Error(`more than 1000 events of type ${type}`)
        for (const event of events) byId.set(event.id, [...(byId.get(event.id) ?? []), event])
      }
      return byId
    },
    async dispose() {
      await running.stop('SIGKILL')
      await storage.remove()
    },
  })
}
