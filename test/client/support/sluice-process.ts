import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClickHouseClient } from '../../../src/adapters/clickhouse/clickhouse-sink.js'
import { quoteIdentifier, quoteString } from '../../../src/adapters/clickhouse/clickhouse-schema.js'
import { startProcess, type RunningSluice } from '../../support/process.js'
import { CLICKHOUSE_URL, dropDatabase, REDIS_URL } from '../../support/services.js'

/** A Sluice process that can be killed and started again on the same ports and storage. */
export interface ClientSluice extends RunningSluice {
  restart(): Promise<ClientSluice>
}

export interface ProcessBackend {
  readonly label: string
  /** a Sluice process on fresh storage of this kind */
  start(): Promise<{
    sluice: ClientSluice
    /** how many rows each of these ids has in storage (see the backends for how they count) */
    copies(types: readonly string[]): Promise<Map<string, number>>
    dispose(): Promise<void>
  }>
}

export const PROCESS_BACKENDS: readonly ProcessBackend[] = [
  {
    label: 'Redis and the ClickHouse server',
    async start() {
      const database = `sluice_client_${randomUUID().replace(/-/g, '').slice(0, 12)}`
      const sluice = await launch({ REDIS_URL, CLICKHOUSE_URL, CLICKHOUSE_DATABASE: database })
      return {
        sluice,
        // Rows as a reader sees them (FINAL). A kill -9 after an insert is committed and before its
        // claims are confirmed leaves the re-sent ids free to be inserted again: a second raw row
        // until a merge, which API.md §5 allows ("never two rows after a merge or under FINAL").
        copies: (types) => storedCopies(database, types),
        dispose: () => dropDatabase(database),
      }
    },
  },
  {
    label: 'the embedded defaults',
    async start() {
      const dataDir = await mkdtemp(join(tmpdir(), 'sluice-client-'))
      // CLICKHOUSE_URL empty (read as unset): a CLICKHOUSE_URL in the runner's environment cannot switch it.
      const sluice = await launch({ CLICKHOUSE_URL: '', DATA_DIR: dataDir })
      return {
        sluice,
        // Embedded storage belongs to the running process: read through GET /v1/events, which
        // reads what a merge leaves (a replay between commit and ack, lost with the in-process
        // dedupe store at the crash, collapses there: API.md §2, ARCHITECTURE.md).
        copies: (types) => readCopies(sluice, types),
        dispose: () => rm(dataDir, { recursive: true, force: true }),
      }
    },
  },
]

async function launch(env: Record<string, string>): Promise<ClientSluice> {
  const running = await startProcess(env)
  return withRestart(running, env)
}

function withRestart(running: RunningSluice, env: Record<string, string>): ClientSluice {
  return Object.assign(running, {
    async restart() {
      const ports = { PORT: new URL(running.url).port, WS_PORT: new URL(running.wsUrl).port }
      return withRestart(await startProcess({ ...env, ...ports }), env)
    },
  })
}

async function storedCopies(
  database: string,
  types: readonly string[],
): Promise<Map<string, number>> {
  const client = await createClickHouseClient({ url: CLICKHOUSE_URL })
  try {
    const table = `${quoteIdentifier(database)}.${quoteIdentifier('raw_events')}`
    const result = await client.query({
      query: `SELECT id, count() AS n FROM ${table} FINAL WHERE type IN (${types.map(quoteString).join(', ')}) GROUP BY id`,
      format: 'JSONEachRow',
    })
    const rows = await result.json<{ id: string; n: string | number }>()
    return new Map(rows.map(({ id, n }) => [id, Number(n)]))
  } finally {
    await client.close()
  }
}

async function readCopies(
  sluice: RunningSluice,
  types: readonly string[],
): Promise<Map<string, number>> {
  const copies = new Map<string, number>()
  for (const type of types) {
    const response = await fetch(`${sluice.url}/v1/events?type=${type}&limit=1000`)
    const { events } = (await response.json()) as { events: Array<{ id: string }> }
    if (events.length === 1000) throw new Error(`more than 1000 events of type ${type}`)
    for (const { id } of events) copies.set(id, (copies.get(id) ?? 0) + 1)
  }
  return copies
}
