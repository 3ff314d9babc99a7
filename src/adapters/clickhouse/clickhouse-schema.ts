import type { AcceptedEvent, Transport } from '../../streams/event.js'
import type { EventRow } from '../../streams/ports.js'
import { toClickHouseTime } from './clickhouse-time.js'
import { NEWLINE, TsvWriter } from './tsv-writer.js'

export { tsv } from './tsv-writer.js'

/*
 * The two SQL dialects Sluice speaks (API.md §5): the ClickHouse that Debian packages (18.16) has no
 * DateTime64, no LowCardinality (without an experimental setting), no codecs and no query
 * parameters; current ClickHouse (server images, chDB) has all of them. Times are therefore
 * `DateTime64(3, 'UTC')` where it exists and plain epoch milliseconds (`UInt64`) before.
 */
export type Dialect = 'datetime64' | 'epoch-ms'

/** DateTime64 arrived in ClickHouse 20.1. */
export function dialectForVersion(version: string): Dialect {
  const [major = 0] = version.split('.').map(Number)
  return major >= 20 ? 'datetime64' : 'epoch-ms'
}

/** The dialect an existing table was created in, told by the type of its `received_at` column. */
export function dialectForColumnType(type: string): Dialect {
  return type.startsWith('DateTime64') ? 'datetime64' : 'epoch-ms'
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/

/** A database or table name from configuration, back-quoted; anything but a plain name is refused. */
export function quoteIdentifier(name: string): string {
  if (!IDENTIFIER.test(name))
    throw new Error(`not a valid ClickHouse identifier: ${JSON.stringify(name)}`)
  return `\`${name}\``
}

/**
 * THE one place a value becomes SQL text. 18.16 has no query parameters, so values are quoted
 * here: backslash first (so the escapes we add are not escaped again), then the quote, then the
 * bytes that would end or confuse a literal. Callers validate their values too; this does not rely on it.
 */
export function quoteString(value: string): string {
  const escaped = value
    .replace(/\\/g, '\\\\')
    .replace(/'/g, "\\'")
    .replace(/\0/g, '\\0')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
  return `'${escaped}'`
}

/** An integer for SQL text; anything else (NaN, 1e400, 1.5, '1 OR 1') is refused. */
export function sqlInteger(value: number): string {
  if (!Number.isSafeInteger(value)) throw new Error(`not a safe integer: ${String(value)}`)
  return String(value)
}

/** A time as a SQL expression of the column's type. */
export function sqlTime(ms: number, dialect: Dialect): string {
  return dialect === 'datetime64'
    ? `toDateTime64(${quoteString(toClickHouseTime(ms))}, 3, 'UTC')`
    : sqlInteger(ms)
}

/*
 * ReplacingMergeTree collapses rows with the same sorting key, but only inside one partition, so
 * there is NO partition key by time: a replayed id whose re-send got a different default timestamp
 * (or arrived on another day) must still collapse. The sorting key is the id alone for the same reason.
 */
export function rawEventsDdl(database: string, table: string, dialect: Dialect): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(database)}.${quoteIdentifier(table)} ${rawEventsColumns(dialect)} ENGINE = ReplacingMergeTree ORDER BY (id)`
}

function rawEventsColumns(dialect: Dialect): string {
  const time = dialect === 'datetime64' ? "DateTime64(3, 'UTC')" : 'UInt64'
  const label = dialect === 'datetime64' ? 'LowCardinality(String)' : 'String'
  return `(
  id String,
  type ${label},
  timestamp ${time},
  received_at ${time},
  source ${label},
  user_id String,
  session_id String,
  properties String,
  transport ${label}
)`
}

function deadLettersColumns(dialect: Dialect): string {
  const time = dialect === 'datetime64' ? "DateTime64(3, 'UTC')" : 'UInt64'
  return `(
  route String,
  event String,
  error String,
  attempts UInt32,
  time ${time}
)`
}

/** Batches that routing gave up on (API.md §5): append-only, read by operators. */
export function deadLettersDdl(database: string, dialect: Dialect): string {
  return `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(database)}.${quoteIdentifier('dead_letters')} ${deadLettersColumns(dialect)} ENGINE = MergeTree ORDER BY (route, time)`
}

/** Where a table's rows are kept: `<table>_local` on each shard of a cluster, under a Distributed `<table>`. */
export const localTable = (table: string) => `${table}_local`

/*
 * The schema on a cluster (CLICKHOUSE_CLUSTER, API.md §11), every statement ON CLUSTER so that one
 * server's start creates it on all; `IF NOT EXISTS` and the order of the distributed DDL queue make
 * several instances starting at once harmless (each host runs the queue in order, the later copies
 * find the tables there).
 * - `<table>_local` on each shard: ReplicatedReplacingMergeTree ordered by id, its replicas kept in
 *   step through the coordination service (ZooKeeper on 18.16, ClickHouse Keeper on current
 *   servers: the same <zookeeper> section) under /clickhouse/tables/{shard}/<database>/<table>.
 * - `<table>`: Distributed over them, sharded by cityHash64(id), so every copy of an id lands on one
 *   shard and collapses there (FINAL, and merges, work per shard).
 * - dead_letters likewise (ReplicatedMergeTree), sharded by route: a route's letters on one shard.
 */
export function clusterSchema(
  database: string,
  table: string,
  dialect: Dialect,
  cluster: string,
): { database: string; events: string[]; deadLetters: string[] } {
  const db = quoteIdentifier(database)
  const on = `ON CLUSTER ${quoteIdentifier(cluster)}`
  const zkPath = (name: string) => quoteString(`/clickhouse/tables/{shard}/${database}/${name}`)
  const replicated = (engine: string, name: string) =>
    `Replicated${engine}(${zkPath(name)}, '{replica}')`
  const distributed = (name: string, key: string) =>
    `CREATE TABLE IF NOT EXISTS ${db}.${quoteIdentifier(name)} ${on} AS ${db}.${quoteIdentifier(localTable(name))} ENGINE = Distributed(${quoteIdentifier(cluster)}, ${db}, ${quoteIdentifier(localTable(name))}, ${key})`
  return {
    database: `CREATE DATABASE IF NOT EXISTS ${db} ${on}`,
    events: [
      `CREATE TABLE IF NOT EXISTS ${db}.${quoteIdentifier(localTable(table))} ${on} ${rawEventsColumns(dialect)} ENGINE = ${replicated('ReplacingMergeTree', localTable(table))} ORDER BY (id)`,
      distributed(table, 'cityHash64(id)'),
    ],
    deadLetters: [
      `CREATE TABLE IF NOT EXISTS ${db}.${quoteIdentifier(localTable('dead_letters'))} ${on} ${deadLettersColumns(dialect)} ENGINE = ${replicated('MergeTree', localTable('dead_letters'))} ORDER BY (route, time)`,
      distributed('dead_letters', 'cityHash64(route)'),
    ],
  }
}

/** The row of one event as JSONEachRow reads it back. */
export interface RawEventRow {
  id: string
  type: string
  timestamp: number | string
  received_at: number | string
  source: string
  user_id: string
  session_id: string
  properties: string
  transport: string
}

function fromClickHouseTime(value: number | string): number {
  // 18.16 quotes 64-bit integers in JSON ("1795687200123"); DateTime64 comes as '2026-11-26 10:00:00.123'.
  if (typeof value === 'number' || /^\d+$/.test(value)) return Number(value)
  return Date.parse(`${value.replace(' ', 'T')}Z`)
}

/**
 * The rows of a batch as TabSeparated bytes, in the column order of `rawEventsDdl`. Hot path (once
 * per stored event): ClickHouse parses TabSeparated with less CPU than JSONEachRow, and each field
 * is written straight into a buffer (tsv-writer.ts), with no row object and no string per event.
 */
export function tabSeparatedRows(rows: readonly EventRow[], dialect: Dialect): Buffer[] {
  const out = new TsvWriter()
  const datetime = dialect === 'datetime64'
  for (const row of rows) {
    // The pipeline's rows have their fields apart and their properties as text: `event` is built
    // only when read, so it is read only for a row that has neither.
    const event = row.fields ?? row.event
    const properties =
      row.propertiesText ??
      (row.fields === undefined && row.event.properties !== undefined
        ? JSON.stringify(row.event.properties)
        : undefined)
    out.field(event.id)
    out.field(event.type)
    if (datetime) {
      out.time(event.timestamp)
      out.time(event.receivedAt)
    } else {
      out.integer(event.timestamp)
      out.integer(event.receivedAt)
    }
    // Absent optional fields are stored as '' (no Nullable: cheaper, and 18.16-friendly).
    optional(out, event.source)
    optional(out, event.userId)
    optional(out, event.sessionId)
    if (properties === undefined) out.empty()
    else out.json(properties)
    out.field(event.transport, NEWLINE)
  }
  return out.done()
}

function optional(out: TsvWriter, value: string | undefined): void {
  if (value === undefined) out.empty()
  else out.field(value)
}

/** A row as read back; an absent optional field was stored as '' and reads back as absent. */
export function fromRow(row: RawEventRow): AcceptedEvent {
  return {
    id: row.id,
    type: row.type,
    timestamp: fromClickHouseTime(row.timestamp),
    receivedAt: fromClickHouseTime(row.received_at),
    ...(row.source !== '' && { source: row.source }),
    ...(row.user_id !== '' && { userId: row.user_id }),
    ...(row.session_id !== '' && { sessionId: row.session_id }),
    ...(row.properties !== '' && {
      properties: JSON.parse(row.properties) as Record<string, unknown>,
    }),
    transport: row.transport as Transport,
  }
}
