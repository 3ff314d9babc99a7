import { createClickHouseClient } from '../../../src/adapters/clickhouse/clickhouse-sink.js'
import { quoteIdentifier } from '../../../src/adapters/clickhouse/clickhouse-schema.js'

/** What a database's `raw_events` holds, read the three ways that tell "exactly once" apart. */
export interface Stored {
  /** id → rows under FINAL (what a merge leaves): 1 for every id stored */
  readonly final: Map<string, number>
  /** rows before any merge (a replay that slipped between commit and ack counts twice here) */
  readonly rawRows: number
  /** count() FINAL */
  readonly finalRows: number
  /** uniqExact(id) */
  readonly uniqueIds: number
}

export async function readStored(url: string, database: string): Promise<Stored> {
  const client = await createClickHouseClient({ url })
  const table = `${quoteIdentifier(database)}.${quoteIdentifier('raw_events')}`
  const rows = async <T>(query: string) =>
    (await client.query({ query, format: 'JSONEachRow' })).json<T>()
  try {
    const final = new Map<string, number>()
    // 18.16 quotes 64-bit integers in JSON output: Number() them.
    for (const row of await rows<{ id: string; n: string | number }>(
      `SELECT id, count() AS n FROM ${table} FINAL GROUP BY id`,
    ))
      final.set(row.id, Number(row.n))
    const [totals] = await rows<{ raw: string | number; uniq: string | number }>(
      `SELECT count() AS raw, uniqExact(id) AS uniq FROM ${table}`,
    )
    const [finalRows] = await rows<{ n: string | number }>(
      `SELECT count() AS n FROM ${table} FINAL`,
    )
    return {
      final,
      rawRows: Number(totals?.raw ?? 0),
      finalRows: Number(finalRows?.n ?? 0),
      uniqueIds: Number(totals?.uniq ?? 0),
    }
  } finally {
    await client.close()
  }
}

/** Every row of a database's `raw_events`, as stored (for checking that nothing invalid got in). */
export async function readAllRows(
  url: string,
  database: string,
): Promise<Array<Record<string, unknown>>> {
  const client = await createClickHouseClient({ url })
  try {
    const result = await client.query({
      query: `SELECT * FROM ${quoteIdentifier(database)}.${quoteIdentifier('raw_events')}`,
      format: 'JSONEachRow',
    })
    return await result.json<Record<string, unknown>>()
  } finally {
    await client.close()
  }
}

/** A database name of its own for one test file (dropped by the file, or gone with its private server). */
export const privateDatabase = (label: string) =>
  `sluice_${label}_${Math.random().toString(16).slice(2, 12)}`
