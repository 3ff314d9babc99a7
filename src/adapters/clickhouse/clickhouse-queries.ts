import type { ClickHouseClient } from '@clickhouse/client'
import {
  dialectForColumnType,
  dialectForVersion,
  quoteString,
  type Dialect,
} from './clickhouse-schema.js'

/** A query's rows as JSON objects (18.16 quotes 64-bit integers: callers Number() them). */
export async function queryRows<T>(client: ClickHouseClient, query: string): Promise<T[]> {
  return (await client.query({ query, format: 'JSONEachRow' })).json<T>()
}

export async function serverVersion(client: ClickHouseClient): Promise<string> {
  const [row] = await queryRows<{ version: string }>(client, 'SELECT version() AS version')
  return row?.version ?? '0'
}

export interface TableDialect {
  /** The dialect in use: learned once, and again after `forget()`. A failure is not kept. */
  get(): Promise<Dialect>
  /** After the table was created or changed: the next `get()` looks again. */
  forget(): void
}

/**
 * The dialect a table's times are in, as the table exists — one created before a server upgrade
 * keeps its UInt64 times, so it is read and written in its own dialect, not the one a new table
 * would get — or the server's, while the table does not exist yet. `timeColumn` is one of its time
 * columns.
 */
export function tableDialect(
  client: ClickHouseClient,
  database: string,
  table: string,
  timeColumn: string,
): TableDialect {
  let known: Promise<Dialect> | undefined
  async function learn(): Promise<Dialect> {
    const [column] = await queryRows<{ type: string }>(
      client,
      `SELECT type FROM system.columns WHERE database = ${quoteString(database)} AND table = ${quoteString(table)} AND name = ${quoteString(timeColumn)}`,
    )
    return column
      ? dialectForColumnType(column.type)
      : dialectForVersion(await serverVersion(client))
  }
  return {
    get() {
      known ??= learn().catch((error: unknown) => {
        known = undefined
        throw error
      })
      return known
    },
    forget() {
      known = undefined
    },
  }
}
