import { mkdir } from 'node:fs/promises'
import { Readable } from 'node:stream'
import {
  ClickHouseLogLevel,
  createClient,
  type ClickHouseClient,
  type ClickHouseClientConfigOptions,
} from '@clickhouse/client'
import { defer, of } from 'rxjs'
import type { AcceptedEvent } from '../../streams/event.js'
import type { CountQuery, EventStorage } from '../../app/event-storage.js'
import type { EventRow } from '../../streams/ports.js'
import { queryRows, serverVersion, tableDialect } from './clickhouse-queries.js'
import { isRetriableClickHouseError } from './clickhouse-retry.js'
import {
  clusterSchema,
  deadLettersDdl,
  dialectForVersion,
  fromRow,
  quoteIdentifier,
  quoteString,
  rawEventsDdl,
  sqlInteger,
  sqlTime,
  tabSeparatedRows,
  type Dialect,
  type RawEventRow,
} from './clickhouse-schema.js'

/** A ClickHouse server (CLICKHOUSE_URL), or the embedded engine (chDB) keeping its data in a directory (DATA_DIR). */
export type ClickHouseTarget = { readonly url: string } | { readonly dataDir: string }

export interface ClickHouseClientOptions {
  /** per request, server mode only (default 30000) */
  readonly requestTimeoutMs?: number
}

/**
 * One client for both targets: `@clickhouse/client` over HTTP, or over chDB through the client's
 * connection hook. chDB is an optional dependency, loaded only when asked for, so that a machine
 * without it still runs against a server. chDB binds one data directory per process.
 */
export async function createClickHouseClient(
  target: ClickHouseTarget,
  options: ClickHouseClientOptions = {},
): Promise<ClickHouseClient> {
  // The client would log every failed request itself; failures reach the pipeline as errors and
  // are counted there (one telemetry object, no logger per component).
  const log = { level: ClickHouseLogLevel.OFF }
  if ('url' in target)
    return createClient({
      url: target.url,
      request_timeout: options.requestTimeoutMs ?? 30_000,
      log,
    })
  let chdb: typeof import('chdb/connection')
  let engine: typeof import('chdb')
  try {
    chdb = await import('chdb/connection')
    engine = await import('chdb')
  } catch (cause) {
    throw new Error(
      'embedded ClickHouse needs the optional package "chdb" (npm install chdb); or set CLICKHOUSE_URL to use a server',
      { cause },
    )
  }
  await mkdir(target.dataDir, { recursive: true })
  // The engine is configured by the first connection to the directory and shared by the later
  // ones; the client's connection takes no engine arguments, so a session opens it with ours and
  // hands over once the client's connection holds it.
  const configuring = new engine.Session(target.dataDir, { connectionArgs: EMBEDDED_ENGINE_ARGS })
  try {
    // chdb types its connection against @clickhouse/client-common, which @clickhouse/client 1.23 now
    // bundles as its own copy: the same interface, two declarations, hence the cast.
    const connection = chdb.createChdbConnection({
      path: target.dataDir,
    }) as unknown as ClickHouseClientConfigOptions['connection']
    return createClient({ connection, log })
  } finally {
    configuring.close()
  }
}

/*
 * Server settings of the embedded engine (issue 16). ClickHouse sizes its caches and its memory
 * limit for a server that owns the machine: a 5 GiB mark cache, 5 GiB primary-index and
 * index-mark caches, 100 MB of query-condition cache, and up to 90% of RAM for itself. Inside
 * Sluice's process, storing one table for a gateway, they would grow with the data for as long as
 * the process lives. Capped here, they hold what one data directory's reads need; an insert that
 * meets the memory limit fails with code 241, which the sink retries (clickhouse-retry.ts).
 */
export const EMBEDDED_ENGINE_ARGS: readonly string[] = [
  `--max_server_memory_usage=${1024 * 2 ** 20}`,
  `--mark_cache_size=${64 * 2 ** 20}`,
  `--primary_index_cache_size=${64 * 2 ** 20}`,
  `--index_mark_cache_size=${16 * 2 ** 20}`,
  `--query_condition_cache_size=${16 * 2 ** 20}`,
  `--compiled_expression_cache_size=${16 * 2 ** 20}`,
]

export interface ClickHouseSinkOptions {
  /** the sink owns it from now on: `close()` closes it */
  readonly client: ClickHouseClient
  /** CLICKHOUSE_DATABASE (default `default`) */
  readonly database?: string
  readonly table?: string
  /**
   * CLICKHOUSE_CLUSTER: a cluster of the server's remote_servers. The schema is created ON CLUSTER
   * (clickhouse-schema.ts's clusterSchema) and `table` is the Distributed table over the shards.
   */
  readonly cluster?: string
}

export type { CountQuery } from '../../app/event-storage.js'

/**
 * The event storage of API.md §5 on ClickHouse, server or embedded: what the server needs of
 * storage (EventStorage), with the dialect it found its tables in. `recent` gives the newest stored
 * events by received_at, then timestamp, each id once; `count` with `final` counts what a merge
 * leaves; `byIds` may give a replayed id twice until it is merged.
 */
export interface ClickHouseSink extends EventStorage {
  /** Creates the database and the tables if missing; tells the server version and the dialect in use. */
  start(): Promise<{ version: string; dialect: Dialect }>
}

const EMPTY_ROW: RawEventRow = {
  id: '',
  type: '',
  timestamp: 0,
  received_at: 0,
  source: '',
  user_id: '',
  session_id: '',
  properties: '',
  transport: 'rest',
}

const COLUMNS =
  'id, type, timestamp, received_at, source, user_id, session_id, properties, transport'
const BY_IDS_PER_QUERY = 200

/*
 * On a cluster, a batch is inserted through the Distributed table, synchronously: the server splits
 * it by cityHash64(id) and answers only once every shard has written its part, so an ack still
 * means committed (API.md §2). Without it the server would queue the parts on its own disk and
 * answer at once: an ack for rows no shard holds yet, lost with that disk. Going to each shard
 * ourselves would save the hop, but needs ClickHouse's CityHash64 (v1.0.2) in JavaScript and a
 * client per shard that follows the cluster's layout: the server already knows both.
 * (`insert_distributed_sync` is `distributed_foreground_insert` on current servers, which keep the
 * old name as an alias.)
 */
export const DISTRIBUTED_INSERT = { insert_distributed_sync: 1 } as const

export function createClickHouseSink(options: ClickHouseSinkOptions): ClickHouseSink {
  const { client, database = 'default', table = 'raw_events', cluster } = options
  const qualified = `${quoteIdentifier(database)}.${quoteIdentifier(table)}`
  const dialect = tableDialect(client, database, table, 'received_at')
  const dialectOf = () => dialect.get()
  const rows = <T>(query: string) => queryRows<T>(client, query)

  return {
    async start() {
      const version = await serverVersion(client)
      const statements = cluster
        ? ((schema) => [schema.database, ...schema.events, ...schema.deadLetters])(
            clusterSchema(database, table, dialectForVersion(version), cluster),
          )
        : [
            `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)}`,
            rawEventsDdl(database, table, dialectForVersion(version)),
            deadLettersDdl(database, dialectForVersion(version)),
          ]
      for (const query of statements) await client.command({ query })
      dialect.forget()
      const inUse = await dialectOf()
      return { version, dialect: inUse }
    },

    write(batch: readonly EventRow[]) {
      if (batch.length === 0) return of(undefined)
      return defer(async () => {
        const inUse = await dialectOf()
        await client.insert({
          table: qualified,
          values: Readable.from(tabSeparatedRows(batch, inUse), { objectMode: false }),
          format: 'TabSeparated',
          ...(cluster && { clickhouse_settings: DISTRIBUTED_INSERT }),
        })
      })
    },

    isRetriable: isRetriableClickHouseError,

    async ping() {
      try {
        return (await client.ping()).success
      } catch {
        return false
      }
    },

    async recent({ type, sinceMs, limit, maxPropertiesBytes }) {
      const inUse = await dialectOf()
      const where = [
        ...(type === undefined ? [] : [`type = ${quoteString(type)}`]),
        ...(sinceMs === undefined ? [] : [`received_at >= ${sqlTime(sinceMs, inUse)}`]),
      ]
      // FINAL: a replayed id that has not been merged yet is still read once.
      const select = (columns: string, count: number) => `SELECT ${columns} FROM ${qualified} FINAL
${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
ORDER BY received_at DESC, timestamp DESC, id DESC LIMIT ${sqlInteger(Math.max(0, count))}`
      // Large events are counted first, by their sizes alone: a thousand of 32 KiB each would be
      // 32 MB to parse, map and serialize again on the event loop, for one answer.
      const count =
        maxPropertiesBytes === undefined
          ? limit
          : fitting(
              await rows<{ n: number | string }>(select('length(properties) AS n', limit)),
              maxPropertiesBytes,
            )
      return count === 0 ? [] : (await rows<RawEventRow>(select(COLUMNS, count))).map(fromRow)
    },

    async byIds(ids) {
      const found: AcceptedEvent[] = []
      // Slices keep each query under 18.16's 256 KiB limit: 128 characters of an id are at most 512 bytes.
      for (let i = 0; i < ids.length; i += BY_IDS_PER_QUERY) {
        const list = ids
          .slice(i, i + BY_IDS_PER_QUERY)
          .map(quoteString)
          .join(', ')
        for (const row of await rows<RawEventRow>(
          `SELECT ${COLUMNS} FROM ${qualified} WHERE id IN (${list})`,
        ))
          found.push(fromRow(row))
      }
      return found
    },

    async recentIds({ sinceMs, limit }) {
      const inUse = await dialectOf()
      const query = `SELECT id, received_at FROM ${qualified} WHERE received_at >= ${sqlTime(sinceMs, inUse)}
ORDER BY received_at DESC LIMIT ${sqlInteger(Math.max(0, limit))}`
      return (await rows<Pick<RawEventRow, 'id' | 'received_at'>>(query)).map((row) => ({
        id: row.id,
        receivedAt: fromRow({ ...EMPTY_ROW, ...row }).receivedAt,
      }))
    },

    async count({ ids, type, final = false }: CountQuery = {}) {
      if (ids?.length === 0) return 0
      const where = [
        ...(ids === undefined ? [] : [`id IN (${ids.map(quoteString).join(', ')})`]),
        ...(type === undefined ? [] : [`type = ${quoteString(type)}`]),
      ]
      const query = `SELECT count() AS n FROM ${qualified}${final ? ' FINAL' : ''}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}`
      const [row] = await rows<{ n: number | string }>(query)
      // 18.16 quotes 64-bit integers in JSON output.
      return Number(row?.n ?? 0)
    },

    close() {
      return client.close()
    },
  }
}

/** How many of the newest rows fit in `maxBytes` of properties (at least one, if there is one). */
function fitting(sizes: ReadonlyArray<{ n: number | string }>, maxBytes: number): number {
  let bytes = 0
  for (let i = 0; i < sizes.length; i++) {
    bytes += Number(sizes[i]!.n)
    if (bytes > maxBytes && i > 0) return i
  }
  return sizes.length
}
