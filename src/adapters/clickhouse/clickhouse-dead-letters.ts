import type { ClickHouseClient } from '@clickhouse/client'
import { defer, of } from 'rxjs'
import { toWire, type AcceptedEvent, type Transport } from '../../streams/event.js'
import type {
  DeadLetter,
  DeadLetterQuery,
  DeadLetterRange,
  DeadLetterStore,
  StoredDeadLetter,
} from '../../streams/routing/ports.js'
import { isRetriableClickHouseError } from './clickhouse-retry.js'
import { queryRows, serverVersion, tableDialect } from './clickhouse-queries.js'
import { DISTRIBUTED_INSERT } from './clickhouse-sink.js'
import {
  clusterSchema,
  deadLettersDdl,
  localTable,
  dialectForVersion,
  quoteIdentifier,
  quoteString,
  sqlInteger,
  sqlTime,
  type Dialect,
} from './clickhouse-schema.js'

export interface ClickHouseDeadLettersOptions {
  /** shared with the sink; the store never closes it */
  readonly client: ClickHouseClient
  readonly database?: string
  /** CLICKHOUSE_CLUSTER: `dead_letters` is Distributed over `dead_letters_local` on each shard (clickhouse-schema.ts) */
  readonly cluster?: string
}

export interface ClickHouseDeadLetters extends DeadLetterStore {
  /** Creates the table if missing (the sink's start() does too) and learns the dialect it is in. */
  start(): Promise<Dialect>
}

interface Row {
  route: string
  event: string
  error: string
  attempts: number | string
  time: number | string
  /** a hash of the row: with its time, the key that pages and removes it (the table has no id column) */
  h: string
}

/*
 * API.md §5's `dead_letters` table on both dialects: 18.16 has no query parameters, so every value
 * goes through the quoting helpers of clickhouse-schema.ts. The event is stored as JSON text in its
 * wire form — what the route would have received, readable by an operator in SQL.
 * A row's key is `<time ms>:<cityHash64(event, toString(time))>`: pages go by (time, hash), and
 * removal deletes exactly the rows read, never one written meanwhile.
 */
const HASH = 'cityHash64(event, toString(time))'
const COLUMNS = `route, event, error, attempts, time, toString(${HASH}) AS h`
const KEY = /^(\d{1,15}):(\d{1,20})$/
// ~25 bytes a key: 18.16 refuses queries over 256 KiB.
const REMOVE_CHUNK = 2000

export function createClickHouseDeadLetters(
  options: ClickHouseDeadLettersOptions,
): ClickHouseDeadLetters {
  const { client, database = 'default', cluster } = options
  const table = `${quoteIdentifier(database)}.${quoteIdentifier('dead_letters')}`
  // Mutations go to the shards' own tables: a Distributed table takes none.
  const mutated = cluster
    ? `${quoteIdentifier(database)}.${quoteIdentifier(localTable('dead_letters'))} ON CLUSTER ${quoteIdentifier(cluster)}`
    : table
  const dialect = tableDialect(client, database, 'dead_letters', 'time')
  const dialectOf = () => dialect.get()
  const rows = <T>(query: string) => queryRows<T>(client, query)

  const toLetter = (row: Row): StoredDeadLetter => {
    const time = fromTime(row.time)
    return {
      route: row.route,
      event: fromWire(JSON.parse(row.event) as Record<string, unknown>),
      error: row.error,
      attempts: Number(row.attempts),
      time,
      key: `${time}:${row.h}`,
    }
  }

  return {
    async start() {
      const version = await serverVersion(client)
      const statements = cluster
        ? ((schema) => [schema.database, ...schema.deadLetters])(
            clusterSchema(database, 'raw_events', dialectForVersion(version), cluster),
          )
        : [
            `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(database)}`,
            deadLettersDdl(database, dialectForVersion(version)),
          ]
      for (const query of statements) await client.command({ query })
      dialect.forget()
      return dialectOf()
    },

    write(letters: readonly DeadLetter[]) {
      if (letters.length === 0) return of(undefined)
      return defer(async () => {
        const inUse = await dialectOf()
        const values = letters.map((l) => ({
          route: l.route,
          event: JSON.stringify(toWire(l.event)),
          error: l.error,
          attempts: l.attempts,
          time: toTime(l.time, inUse),
        }))
        await client.insert({
          table,
          values,
          format: 'JSONEachRow',
          ...(cluster && { clickhouse_settings: DISTRIBUTED_INSERT }),
        })
      })
    },

    isRetriable: isRetriableClickHouseError,

    list({ route, sinceMs, limit }: DeadLetterQuery) {
      return defer(async () => {
        const inUse = await dialectOf()
        const where = [
          ...(route === undefined ? [] : [`route = ${quoteString(route)}`]),
          ...(sinceMs === undefined ? [] : [`time >= ${sqlTime(sinceMs, inUse)}`]),
        ]
        const query = `SELECT ${COLUMNS} FROM ${table}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY time DESC, ${HASH} DESC LIMIT ${sqlInteger(Math.max(0, limit))}`
        return (await rows<Row>(query)).map(toLetter)
      })
    },

    page({ route, sinceMs, untilMs, error }: DeadLetterRange, limit: number, after?: string) {
      return defer(async () => {
        const inUse = await dialectOf()
        const where = [
          `route = ${quoteString(route)}`,
          `time <= ${sqlTime(untilMs, inUse)}`,
          ...(sinceMs === undefined ? [] : [`time >= ${sqlTime(sinceMs, inUse)}`]),
          ...(error === undefined ? [] : [`error = ${quoteString(error)}`]),
        ]
        if (after !== undefined) {
          const [time, hash] = parseKey(after)
          where.push(
            `(time > ${sqlTime(time, inUse)} OR (time = ${sqlTime(time, inUse)} AND ${HASH} > toUInt64(${quoteString(hash)})))`,
          )
        }
        const query = `SELECT ${COLUMNS} FROM ${table} WHERE ${where.join(' AND ')} ORDER BY time, ${HASH} LIMIT ${sqlInteger(Math.max(0, limit))}`
        return (await rows<Row>(query)).map(toLetter)
      })
    },

    remove(route: string, keys: readonly string[]) {
      return defer(async () => {
        const inUse = await dialectOf()
        for (let i = 0; i < keys.length; i += REMOVE_CHUNK) {
          const hashes = keys
            .slice(i, i + REMOVE_CHUNK)
            .map((key) => `toUInt64(${quoteString(parseKey(key)[1])})`)
          // A mutation: asynchronous on 18.16 (rows go within a moment); newer servers wait for it.
          await client.command({
            query: `ALTER TABLE ${mutated} DELETE WHERE route = ${quoteString(route)} AND ${HASH} IN (${hashes.join(', ')})`,
            ...(inUse === 'datetime64' && { clickhouse_settings: { mutations_sync: '1' } }),
          })
        }
      })
    },
  }
}

function parseKey(key: string): [number, string] {
  const match = KEY.exec(key)
  if (!match) throw new Error(`not a dead-letter key: ${JSON.stringify(key)}`)
  return [Number(match[1]), match[2]!]
}

function toTime(ms: number, dialect: Dialect): number | string {
  // DateTime64 is sent as text, read in the column's UTC (see clickhouse-schema.ts).
  return dialect === 'datetime64'
    ? new Date(ms).toISOString().replace('T', ' ').replace('Z', '')
    : ms
}

function fromTime(value: number | string): number {
  // 18.16 quotes 64-bit integers in JSON; DateTime64 comes as '2026-11-26 10:00:00.123'.
  if (typeof value === 'number' || /^\d+$/.test(value)) return Number(value)
  return Date.parse(`${value.replace(' ', 'T')}Z`)
}

/**
 * The inverse of `toWire` (src/streams/event.ts): an accepted event back from the JSON readers get
 * (RFC 3339 times with milliseconds), as dead letters keep them.
 * The JSON was written by Sluice itself, so it is trusted: only the times are converted.
 */
export function fromWire(wire: Record<string, unknown>): AcceptedEvent {
  const text = (key: string) => (typeof wire[key] === 'string' ? wire[key] : undefined)
  const time = (key: string) => {
    const value = wire[key]
    return typeof value === 'number' ? value : Date.parse(String(value))
  }
  const source = text('source')
  const userId = text('userId')
  const sessionId = text('sessionId')
  const properties = wire.properties
  return {
    id: String(wire.id),
    type: String(wire.type),
    timestamp: time('timestamp'),
    receivedAt: time('receivedAt'),
    ...(source !== undefined && { source }),
    ...(userId !== undefined && { userId }),
    ...(sessionId !== undefined && { sessionId }),
    ...(properties !== null &&
      typeof properties === 'object' && { properties: properties as Record<string, unknown> }),
    transport: (text('transport') ?? 'rest') as Transport,
  }
}
