import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { createClickHouseClient } from '../../../src/adapters/clickhouse/clickhouse-sink.js'

/** The two shards of scripts/clickhouse-cluster.sh, and the cluster their remote_servers name. */
export const CLICKHOUSE_CLUSTER = 'sluice_cluster'
export const SHARD_URLS = ['http://127.0.0.1:8124', 'http://127.0.0.1:8125'] as const

/** ZooKeeper and both shards (idempotent). */
export function startClickHouseCluster(): void {
  execFileSync('bash', ['scripts/clickhouse-cluster.sh', 'start'], { stdio: 'inherit' })
}

export const clusterDatabase = (label: string) =>
  `sluice_${label}_${randomUUID().replace(/-/g, '').slice(0, 10)}`

/** Drops a database on every shard (and its replicas' paths in ZooKeeper with it). */
export async function dropClusterDatabase(database: string): Promise<void> {
  const admin = await createClickHouseClient({ url: SHARD_URLS[0] })
  try {
    await admin.command({
      query: `DROP DATABASE IF EXISTS \`${database}\` ON CLUSTER ${CLICKHOUSE_CLUSTER}`,
    })
  } finally {
    await admin.close()
  }
}

/** Each shard's local rows of `table`: id → copies (before merges), per shard in SHARD_URLS order. */
export async function shardRows(
  database: string,
  table = 'raw_events_local',
  final = false,
): Promise<Array<Map<string, number>>> {
  return Promise.all(
    SHARD_URLS.map(async (url) => {
      const client = await createClickHouseClient({ url })
      try {
        const rows = await (
          await client.query({
            query: `SELECT id, count() AS n FROM \`${database}\`.${table}${final ? ' FINAL' : ''} GROUP BY id`,
            format: 'JSONEachRow',
          })
        ).json<{ id: string; n: string | number }>()
        return new Map(rows.map((row) => [row.id, Number(row.n)]))
      } finally {
        await client.close()
      }
    }),
  )
}

/** The shard (0-based, SHARD_URLS order) that Distributed's cityHash64(id) names for each id, asked of the server. */
export async function owningShards(ids: readonly string[]): Promise<Map<string, number>> {
  const client = await createClickHouseClient({ url: SHARD_URLS[0] })
  try {
    const out = new Map<string, number>()
    for (let i = 0; i < ids.length; i += 200) {
      const list = ids
        .slice(i, i + 200)
        .map((id) => `'${id.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`)
        .join(',')
      const rows = await (
        await client.query({
          // Two shards of weight 1: shard = hash % 2 (Distributed's rule: the slot in the weights).
          query: `SELECT id, cityHash64(id) % 2 AS shard FROM (SELECT arrayJoin([${list}]) AS id)`,
          format: 'JSONEachRow',
        })
      ).json<{ id: string; shard: string | number }>()
      for (const row of rows) out.set(row.id, Number(row.shard))
    }
    return out
  } finally {
    await client.close()
  }
}
