/*
 * The capacity model of docs/scaling.md: from measured per-event costs to fleet sizes at 100,000,
 * 1,000,000 and 10,000,000 events/s. Run it with `npx tsx bench/capacity.ts` (add `--json` for the
 * numbers); change an input when a measurement changes and the table in docs/scaling.md moves with it.
 *
 * Every input says where it was measured. Costs are CPU per event of one process, from
 * BENCHMARKS.md (2 cores shared by Sluice, Redis, ClickHouse and the clients, so they are upper
 * bounds for cores of their own) and from the cluster measurements in docs/scaling.md.
 */

export interface Inputs {
  /** Sluice CPU µs per event, WebSocket 100–1,000 per frame or REST 1,000 per batch (BENCHMARKS.md, 2026-12-02 morning run at the default scale: 13.4–14.1; 19.0–23.0 before that day's changes) */
  readonly sluiceUs: number
  /** Redis CPU µs per event for claim + confirm on a primary with a replica, ids claimed in large groups (docs/scaling.md: 7.1–8.7 on the cluster; 4.9–5.6 on one Redis without a replica) */
  readonly redisUs: number
  /** Redis CPU µs per claim + confirm pair of calls on one primary, whatever their size (the fixed cost a Cluster fan-out multiplies; docs/scaling.md: 110–185 here, 124 on one Redis) */
  readonly redisCallUs: number
  /** bytes of Redis memory per dedupe key (`sluice:dedupe:<uuid>` with its value, Redis 7.0; redis-dedupe-store.ts) */
  readonly redisBytesPerKey: number
  /** ClickHouse CPU µs per event, insert and the merges it causes, large inserts (BENCHMARKS.md: 9.7–12.3) */
  readonly clickhouseUs: number
  /** the extra CPU µs per event of the Distributed hop: the receiving shard parses the batch and re-sends other shards their rows (about one TabSeparated parse, BENCHMARKS.md: 2.6–2.9) */
  readonly distributedUs: number
  /** bytes per event on the wire: client → Sluice (JSON), Sluice → client (result), Sluice → Redis, Sluice → ClickHouse (TabSeparated) */
  readonly wire: {
    readonly inbound: number
    readonly ack: number
    readonly redis: number
    readonly clickhouse: number
  }
  /** compressed bytes per stored row in ClickHouse (ids are random: they compress poorly) */
  readonly storedBytesPerRow: number
  /** rows each row is rewritten by merges as parts grow (BENCHMARKS.md: 6.7) */
  readonly mergeRewrites: number
  /** deployment choices */
  readonly plan: {
    /** the busiest a core should run in steady state, to leave room for failover and spikes */
    readonly utilization: number
    readonly dedupeTtlSeconds: number
    /** usable memory per Redis primary (its replica holds the same) */
    readonly redisMemoryBytes: number
    readonly clickhouseCoresPerShard: number
    readonly clickhouseReplicas: number
    /** new parts a second one shard's table takes comfortably (ClickHouse advises about one insert a second per table) */
    readonly partsPerShardSecond: number
    /** cores per gateway host (one Sluice process per core: Node runs the pipeline on one thread) */
    readonly gatewayCoresPerHost: number
    /** async_insert_busy_timeout_ms of current ClickHouse: with async_insert each shard makes one part per this, whatever the gateways do */
    readonly asyncInsertFlushMs: number
  }
}

export const MEASURED: Inputs = {
  sluiceUs: 14,
  redisUs: 8,
  redisCallUs: 120,
  redisBytesPerKey: 152,
  clickhouseUs: 11,
  distributedUs: 3,
  wire: { inbound: 230, ack: 70, redis: 110, clickhouse: 210 },
  storedBytesPerRow: 60,
  mergeRewrites: 6.7,
  plan: {
    utilization: 0.6,
    dedupeTtlSeconds: 3600,
    redisMemoryBytes: 24 * 2 ** 30,
    clickhouseCoresPerShard: 16,
    clickhouseReplicas: 2,
    partsPerShardSecond: 10,
    gatewayCoresPerHost: 16,
    asyncInsertFlushMs: 200,
  },
}

export interface Sizing {
  readonly rate: number
  readonly gatewayProcesses: number
  readonly gatewayHosts: number
  readonly redisShardsForCpu: number
  readonly redisShardsForMemory: number
  readonly redisShards: number
  /** the same at INSERT_BATCH_MAX_WAIT_MS 20 (async_insert): primaries, and ids per call */
  readonly redisShardsAt20ms: number
  readonly idsPerCallAt20ms: number
  /** ids per claim script call at the plan (batch per process, split over the shards) */
  readonly idsPerCall: number
  readonly clickhouseShards: number
  /** the batch window that keeps each shard under partsPerShardSecond (INSERT_BATCH_MAX_WAIT_MS) */
  readonly batchWindowMs: number
  /** rows per insert per process at that window */
  readonly rowsPerInsert: number
  readonly ingressGbps: number
  readonly storedTbPerDay: number
  readonly mergeWriteMBps: number
  readonly firstToSaturate: string
}

const ceil = Math.ceil

export function size(rate: number, inputs: Inputs = MEASURED): Sizing {
  const { plan } = inputs
  const perCore = (us: number) => (1e6 / us) * plan.utilization
  const gatewayProcesses = ceil(rate / perCore(inputs.sluiceUs))
  const gatewayHosts = ceil(gatewayProcesses / plan.gatewayCoresPerHost)

  // ClickHouse first: its parts budget sets the batch window, and the window sets the claim sizes.
  const clickhouseShards = ceil(
    (rate * (inputs.clickhouseUs + inputs.distributedUs) * plan.clickhouseReplicas) /
      1e6 /
      plan.utilization /
      plan.clickhouseCoresPerShard,
  )
  // Every insert through the Distributed table becomes a part on every shard it has rows for.
  const insertsPerSecondAllowed = plan.partsPerShardSecond
  const batchWindowMs = Math.max(20, ceil((1000 * gatewayProcesses) / insertsPerSecondAllowed))
  const rowsPerInsert = ceil((rate / gatewayProcesses) * (batchWindowMs / 1000))

  // Redis: one core per primary. A batch is claimed by one call per primary it has ids on.
  const redisShardsForMemory = ceil(
    (rate * plan.dedupeTtlSeconds * inputs.redisBytesPerKey) / plan.redisMemoryBytes,
  )
  const redis = (rowsPerBatch: number) => {
    let shards = 1
    let ids = rowsPerBatch
    for (let i = 0; i < 100; i++) {
      ids = Math.max(1, rowsPerBatch / shards)
      const forCpu = ceil(rate / perCore(inputs.redisUs + inputs.redisCallUs / ids))
      const next = Math.max(forCpu, redisShardsForMemory, 1)
      if (next === shards) break
      shards = next
    }
    return {
      shards,
      ids,
      forCpu: ceil(rate / perCore(inputs.redisUs + inputs.redisCallUs / Math.max(1, ids))),
    }
  }
  const windowed = redis(rowsPerInsert)
  // With async_insert the gateways keep the default 20 ms window: small batches, split over every primary.
  const fast = redis(ceil((rate / gatewayProcesses) * 0.02))
  const redisShards = windowed.shards
  const idsPerCall = windowed.ids
  const redisShardsForCpu = windowed.forCpu

  const ingressGbps = (rate * inputs.wire.inbound * 8) / 1e9
  const storedTbPerDay = (rate * 86400 * inputs.storedBytesPerRow * plan.clickhouseReplicas) / 1e12
  const mergeWriteMBps =
    (rate * inputs.storedBytesPerRow * inputs.mergeRewrites) / 1e6 / clickhouseShards
  const firstToSaturate =
    redisShardsForMemory > redisShardsForCpu
      ? `Redis memory (${plan.dedupeTtlSeconds} s of keys)${fast.forCpu > redisShardsForMemory ? `; at a 20 ms window, Redis CPU (claims of ${Math.round(fast.ids)} ids a call)` : ''}`
      : `Redis CPU`
  return {
    rate,
    gatewayProcesses,
    gatewayHosts,
    redisShardsForCpu,
    redisShardsForMemory,
    redisShards,
    redisShardsAt20ms: fast.shards,
    idsPerCallAt20ms: Math.round(fast.ids),
    idsPerCall: Math.round(idsPerCall),
    clickhouseShards,
    batchWindowMs,
    rowsPerInsert,
    ingressGbps,
    storedTbPerDay,
    mergeWriteMBps,
    firstToSaturate,
  }
}

export function table(rates: readonly number[], inputs: Inputs = MEASURED): string {
  const rows = rates.map((rate) => size(rate, inputs))
  const fmt = (n: number, digits = 0) =>
    n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
  const line = (label: string, cell: (s: Sizing) => string) =>
    `| ${label} | ${rows.map(cell).join(' | ')} |`
  return [
    `| | ${rows.map((s) => `${fmt(s.rate)} events/s`).join(' | ')} |`,
    `|---|${rows.map(() => '---:').join('|')}|`,
    line('Sluice processes (one core each)', (s) => fmt(s.gatewayProcesses)),
    line(`gateway hosts (${inputs.plan.gatewayCoresPerHost} cores)`, (s) => fmt(s.gatewayHosts)),
    line(
      'Redis primaries: for CPU / for memory',
      (s) => `${fmt(s.redisShardsForCpu)} / ${fmt(s.redisShardsForMemory)}`,
    ),
    line('Redis primaries (+ as many replicas)', (s) => `**${fmt(s.redisShards)}**`),
    line('ids per claim call (per primary, per batch)', (s) => fmt(s.idsPerCall)),
    line(
      `ClickHouse shards (${inputs.plan.clickhouseCoresPerShard} cores, ${inputs.plan.clickhouseReplicas} replicas each)`,
      (s) => `**${fmt(s.clickhouseShards)}**`,
    ),
    line(`INSERT_BATCH_MAX_WAIT_MS for ≤ ${inputs.plan.partsPerShardSecond} parts/s a shard`, (s) =>
      fmt(s.batchWindowMs),
    ),
    line('rows per insert (INSERT_BATCH_MAX_ROWS at least)', (s) => fmt(s.rowsPerInsert)),
    line(`… or with async_insert (current ClickHouse): parts/s a shard at the default 20 ms`, () =>
      fmt(1000 / inputs.plan.asyncInsertFlushMs),
    ),
    line(
      '… then Redis primaries at 20 ms (ids per claim call)',
      (s) => `${fmt(s.redisShardsAt20ms)} (${fmt(s.idsPerCallAt20ms)})`,
    ),
    line('ingress, Gbit/s', (s) => fmt(s.ingressGbps, 1)),
    line('stored, TB a day (all replicas)', (s) => fmt(s.storedTbPerDay, 1)),
    line('merge writes, MB/s a shard', (s) => fmt(s.mergeWriteMBps, 0)),
    line('saturates first', (s) => s.firstToSaturate),
  ].join('\n')
}

const RATES = [100_000, 1_000_000, 10_000_000]

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--json'))
    console.log(
      JSON.stringify(
        RATES.map((rate) => size(rate)),
        null,
        2,
      ),
    )
  else console.log(table(RATES))
}
