/**
 * npm run bench: Sluice against a real Redis and a real ClickHouse server (brought up as npm test
 * does), driven from separate client processes over real sockets; the per-event design it replaces
 * and the bare-insert floor measured in the same run; every accepted event checked in ClickHouse.
 *
 * BENCH_SCALE (default 1) scales the number of events of every scenario; BENCH_ONLY=<regex> runs a subset.
 *
 * `npm run bench -- --quick`: the scenarios that decide CPU per event (WS 1 and 100 per frame, REST
 * 100 and 1,000 per batch, also from autocannon, Segment batches, embedded), full load only, at BENCH_SCALE 0.1 unless set, in
 * about 3 minutes: for a developer's A/B of a change. It prints its rows and writes
 * bench/quick-run.json, and leaves BENCHMARKS.md alone.
 */
import { execFileSync, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { createClickHouseClient } from '../src/adapters/clickhouse/clickhouse-sink.js'
import { drive, type Load, type LoadResult } from './drive.js'
import { floor } from './floor.js'
import { writeReport, type Row, type ScenarioShape } from './report.js'
import { processStats } from './process-stats.js'
import { latencyBetween, readHistograms, type ServerLatency } from './server-latency.js'
import { startServer, type ServerProcess } from './sluice-process.js'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const CLICKHOUSE_URL = process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123'
const QUICK = process.argv.includes('--quick')
const SCALE = Number(process.env.BENCH_SCALE ?? (QUICK ? 0.1 : 1))
const QUICK_SCENARIOS =
  /^(WS 1\/frame × 16 conn|WS 100\/frame × 16 conn|REST 100\/batch × 16 conn|REST 1000\/batch × 16 conn|REST 1000\/batch × 16 conn \(autocannon\)|Segment .*|WS 100\/frame × 16 conn, embedded chDB)$/
const ONLY = process.env.BENCH_ONLY
  ? new RegExp(process.env.BENCH_ONLY)
  : QUICK
    ? QUICK_SCENARIOS
    : undefined
// Sluice as `npm start` runs it: compiled (npm run bench builds dist/ first).
const SERVER = process.env.BENCH_SERVER ?? 'dist/main.js'
const database = `sluice_bench_${randomUUID().replace(/-/g, '').slice(0, 8)}`

interface Scenario extends ScenarioShape {
  readonly duplicateRate?: number
  /** measure latency at half of the full-load rate too */
  readonly halfLoad?: boolean
  /** frames each WS connection keeps in flight (default: about 2,000 events' worth) */
  readonly window?: number
  /** WS through sluice/client instead of the bench's own client (bench/sluice-client.ts) */
  readonly viaClient?: boolean
  /** REST driven by autocannon instead of the bench's own client (bench/autocannon-client.ts) */
  readonly autocannon?: boolean
}

const ws = (
  eventsPerFrame: number,
  connections: number,
  events: number,
  extra: Partial<Scenario> = {},
): Scenario => ({
  name: `WS ${eventsPerFrame}/frame × ${connections} conn`,
  mode: 'sluice',
  transport: 'ws',
  eventsPerFrame,
  connections,
  events,
  halfLoad: true,
  ...extra,
})

const SCENARIOS: Scenario[] = [
  ws(1, 1, 60_000),
  ws(1, 16, 150_000),
  ws(10, 1, 200_000),
  ws(10, 16, 400_000),
  ws(100, 1, 600_000),
  ws(100, 16, 1_500_000),
  ws(1000, 1, 600_000),
  ws(1000, 16, 1_500_000),
  {
    name: 'REST 100/batch × 16 conn',
    mode: 'sluice',
    transport: 'rest',
    eventsPerFrame: 100,
    connections: 16,
    events: 400_000,
    halfLoad: true,
  },
  {
    // The same events as Segment track messages to the drop-in endpoint: the mapping's cost, next to REST 100.
    name: 'Segment /v1/batch 100/batch × 16 conn',
    mode: 'sluice',
    transport: 'segment',
    eventsPerFrame: 100,
    connections: 16,
    events: 400_000,
    halfLoad: true,
  },
  {
    name: 'REST 1000/batch × 16 conn',
    mode: 'sluice',
    transport: 'rest',
    eventsPerFrame: 1000,
    connections: 16,
    events: 1_000_000,
    halfLoad: true,
  },
  {
    // The same batches from autocannon: a load tool no one here wrote, as a cross-check of the row above.
    name: 'REST 1000/batch × 16 conn (autocannon)',
    mode: 'sluice',
    transport: 'rest',
    eventsPerFrame: 1000,
    connections: 16,
    events: 1_000_000,
    halfLoad: false,
    autocannon: true,
  },
  // The same load through the client library: its cost per event beside the bench's own writer.
  ws(100, 16, 1_500_000, { name: 'WS 100/frame × 16 conn via sluice/client', viaClient: true }),
  ws(100, 16, 1_000_000, { name: 'WS 100/frame × 16 conn, 10% duplicates', duplicateRate: 0.1 }),
  ws(100, 16, 600_000, { name: 'WS 100/frame × 16 conn, embedded chDB', mode: 'embedded' }),
  // A flood: every connection pushes 20,000 events at once, 320,000 offered against an admission
  // bound of 100,000 — far more than storage takes; backpressure must hold memory and lose nothing.
  ws(100, 16, 1_500_000, {
    name: 'WS flood: 100/frame × 16 conn, 200 frames in flight each',
    window: 200,
    halfLoad: false,
  }),
  // The per-event design: a few hundred events a second, so a few thousand events make the point.
  { ...ws(1, 1, 1_500), name: 'baseline: WS 1/frame × 1 conn', mode: 'baseline', halfLoad: false },
  {
    ...ws(100, 16, 3_200),
    name: 'baseline: WS 100/frame × 16 conn',
    mode: 'baseline',
    halfLoad: false,
  },
  {
    name: 'baseline: REST 1000/batch × 16 conn',
    mode: 'baseline',
    transport: 'rest',
    eventsPerFrame: 1000,
    connections: 16,
    events: 16_000,
    halfLoad: false,
  },
]

/** Frames a WS connection keeps in flight: about 2,000 events per connection, at least 2 frames. */
const windowFor = (eventsPerFrame: number) => Math.max(2, Math.ceil(2000 / eventsPerFrame))

async function main(): Promise<void> {
  execFileSync('bash', ['scripts/services.sh'], { stdio: 'inherit' })
  await warnOfLeftoverKeys()
  // Dropping the per-event design's database means removing thousands of one-row parts: over a minute here.
  const admin = await createClickHouseClient({ url: CLICKHOUSE_URL }, { requestTimeoutMs: 600_000 })
  const version = (
    await (
      await admin.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' })
    ).json<{ v: string }>()
  )[0]!.v
  const rows: Row[] = []
  let idle: IdleResult | undefined
  const servers = new Map<Scenario['mode'], ServerProcess>()
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-bench-'))
  try {
    for (const scenario of SCENARIOS.filter((s) => !ONLY || ONLY.test(s.name))) {
      const server = servers.get(scenario.mode) ?? (await startFor(scenario.mode, dataDir))
      servers.set(scenario.mode, server)
      rows.push(await measure(scenario, server))
      console.log(formatRow(rows.at(-1)!))
    }
    if (QUICK) {
      writeFileSync(
        'bench/quick-run.json',
        JSON.stringify({ date: new Date(), scale: SCALE, rows }),
      )
      console.log(quickTable(rows))
      return
    }
    if (!ONLY || ONLY.test('idle')) {
      // A fresh server: "above an idle server" means above one that has served nothing yet.
      const fresh = await startFor('sluice', dataDir)
      idle = await idleConnections(fresh, 10_000)
      await fresh.stop()
    }
    const floorRun = await floor({
      url: CLICKHOUSE_URL,
      database: `${database}_floor`,
      runId: randomUUID().slice(0, 8),
      totalEvents: Math.round(1_000_000 * SCALE),
      batchRows: 10_000,
      concurrency: 4,
    })
    console.log(`floor: ${Math.round(floorRun.eventsPerSecond)} events/s (${floorRun.stored} rows)`)
    const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; ClickHouse server ${version}; Redis ${redisVersion()}`
    writeReport({
      rows,
      floorEventsPerSecond: floorRun.eventsPerSecond,
      machine,
      scale: SCALE,
      date: new Date().toISOString(),
      ...(idle && { idle }),
    })
  } finally {
    for (const server of servers.values()) await server.stop()
    for (const db of [database, `${database}_floor`, `${database}_baseline`])
      await admin.command({ query: `DROP DATABASE IF EXISTS ${db}` })
    await admin.close()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

function startFor(mode: Scenario['mode'], dataDir: string): Promise<ServerProcess> {
  if (mode === 'baseline')
    return startServer('bench/baseline-server.ts', {
      REDIS_URL,
      CLICKHOUSE_URL,
      CLICKHOUSE_DATABASE: `${database}_baseline`,
    })
  if (mode === 'embedded') return startServer(SERVER, { DATA_DIR: dataDir })
  return startServer(SERVER, { REDIS_URL, CLICKHOUSE_URL, CLICKHOUSE_DATABASE: database })
}

async function measure(scenario: Scenario, server: ServerProcess): Promise<Row> {
  const events = Math.max(
    1000,
    Math.round(scenario.events * (scenario.mode === 'baseline' ? 1 : SCALE)),
  )
  const processes = scenario.connections >= 16 ? 2 : 1
  const load = (runId: string, totalEvents: number, rate?: number): Load => ({
    transport: scenario.transport,
    url: scenario.transport === 'ws' ? server.wsUrl! : server.httpUrl,
    runId,
    processes,
    connectionsPerProcess: scenario.connections / processes,
    eventsPerFrame: scenario.eventsPerFrame,
    totalEvents,
    window: scenario.window ?? windowFor(scenario.eventsPerFrame),
    ...(rate !== undefined && { rate }),
    ...(scenario.duplicateRate !== undefined && { duplicateRate: scenario.duplicateRate }),
    ...(scenario.viaClient && { viaClient: true }),
    ...(scenario.autocannon && { autocannon: true }),
  })
  server.resetPeak()
  const before = server.stats()
  const storesBefore = storeCpuSeconds()
  const runId = randomUUID().slice(0, 8)
  const full = await drive(load(runId, events))
  const after = server.stats()
  const storesAfter = storeCpuSeconds()
  const perEvent = (seconds: number) => Math.round((seconds / events) * 1e6 * 10) / 10
  const stored = await storedOnce(scenario.mode, runId)
  await forgetKeys(runId)
  let half: LoadResult | undefined
  let halfInSluice: ServerLatency | undefined
  if (scenario.halfLoad && !QUICK) {
    const histograms =
      scenario.mode === 'baseline' ? undefined : await readHistograms(server.httpUrl)
    half = await drive(
      load(randomUUID().slice(0, 8), Math.round(events / 2), full.eventsPerSecond / 2),
    )
    if (histograms) halfInSluice = latencyBetween(histograms, await readHistograms(server.httpUrl))
  }
  return {
    name: scenario.name,
    mode: scenario.mode,
    transport: scenario.transport,
    eventsPerFrame: scenario.eventsPerFrame,
    connections: scenario.connections,
    events,
    full,
    ...(half && { half }),
    ...(halfInSluice && { halfInSluice }),
    peakRssMb: Math.round(after.peakRssBytes / 2 ** 20),
    cpuMicrosPerEvent: {
      server: perEvent(after.cpuSeconds - before.cpuSeconds),
      redis: perEvent(storesAfter.redis - storesBefore.redis),
      clickhouse: perEvent(storesAfter.clickhouse - storesBefore.clickhouse),
      clients: perEvent(full.clientCpuSeconds),
    },
    stored,
  }
}

/** What ClickHouse holds of a run: rows, distinct ids; `exact` when every accepted event is there once. */
async function storedOnce(mode: Scenario['mode'], runId: string): Promise<Row['stored']> {
  if (mode === 'embedded') return { checked: false, rows: 0, unique: 0 }
  const client = await createClickHouseClient({ url: CLICKHOUSE_URL })
  const db = mode === 'baseline' ? `${database}_baseline` : database
  const [row] = await (
    await client.query({
      query: `SELECT count() AS rows, uniqExact(id) AS ids FROM ${db}.raw_events WHERE id LIKE '${runId}-%'`,
      format: 'JSONEachRow',
    })
  ).json<{ rows: string; ids: string }>()
  await client.close()
  return { checked: true, rows: Number(row!.rows), unique: Number(row!.ids) }
}

interface IdleResult {
  readonly connections: number
  readonly rssBeforeMb: number
  readonly rssAfterMb: number
}

/** Opens `count` idle WS connections from a client process and reads the server's RSS before and after. */
async function idleConnections(server: ServerProcess, count: number): Promise<IdleResult> {
  const child = fork(fileURLToPath(new URL('./idle-connections.ts', import.meta.url)), {
    execArgv: ['--import', 'tsx'],
  })
  const before = server.stats().rssBytes
  const reply = () =>
    new Promise<{ opened?: number }>((resolve, reject) => {
      const exited = (code: number | null) =>
        reject(new Error(`the idle-connections client exited (${code}) before it answered`))
      child.once('exit', exited)
      child.once('message', (message: { opened?: number; error?: string }) => {
        child.off('exit', exited)
        if (message.error === undefined) resolve(message)
        else reject(new Error(`the idle-connections client failed: ${message.error}`))
      })
    })
  child.send({ url: server.wsUrl, count })
  const { opened } = await reply()
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const after = server.stats().rssBytes
  child.send({ close: true })
  await reply()
  console.log(
    `idle: ${opened} connections: RSS ${Math.round(before / 2 ** 20)} → ${Math.round(after / 2 ** 20)} MB`,
  )
  return {
    connections: opened ?? 0,
    rssBeforeMb: Math.round(before / 2 ** 20),
    rssAfterMb: Math.round(after / 2 ** 20),
  }
}

/**
 * A Redis holding millions of keys from earlier runs or tests (each with the hour-long dedupe TTL)
 * spends CPU expiring them, on the same two cores: say so, since the numbers will show it.
 */
async function warnOfLeftoverKeys(): Promise<void> {
  const redis = new Redis(REDIS_URL)
  const keys = await redis.dbsize()
  await redis.quit()
  if (keys > 100_000)
    console.warn(
      `bench: Redis already holds ${keys.toLocaleString('en-US')} keys; their expiry will take CPU from this run (BENCHMARKS.md, "Redis")`,
    )
}

/** Deletes a run's dedupe keys, so that later scenarios meet a Redis of the same size. */
async function forgetKeys(runId: string): Promise<void> {
  const redis = new Redis(REDIS_URL)
  for (const prefix of ['sluice:dedupe:', 'baseline:dedupe:']) {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}${runId}-*`, 'COUNT', 10_000)
      cursor = next
      if (keys.length > 0) await redis.unlink(...keys)
    } while (cursor !== '0')
  }
  await redis.quit()
}

/**
 * CPU used so far by the Redis and ClickHouse servers of this machine: where the rest of the two
 * cores go. Embedded mode runs ClickHouse inside the server process, so there it counts as 0 here.
 */
function storeCpuSeconds(): { redis: number; clickhouse: number } {
  const cpuOf = (name: string) => {
    try {
      return execFileSync('pgrep', ['-x', name])
        .toString()
        .trim()
        .split('\n')
        .filter(Boolean)
        .reduce((sum, pid) => sum + processStats(Number(pid)).cpuSeconds, 0)
    } catch {
      return 0
    }
  }
  // The kernel shortens comm to 15 characters: "clickhouse-serv".
  return { redis: cpuOf('redis-server'), clickhouse: cpuOf('clickhouse-serv') }
}

function redisVersion(): string {
  try {
    return /v=(\S+)/.exec(execFileSync('redis-server', ['--version']).toString())?.[1] ?? '?'
  } catch {
    return '?'
  }
}

/** The quick run's rows as a table: what an A/B compares. */
function quickTable(rows: readonly Row[]): string {
  const lines = rows.map(
    (row) =>
      `| ${row.name} | ${row.full.eventsPerSecond} | ${row.full.latency.p99} | ${row.cpuMicrosPerEvent.server} | ${row.peakRssMb} | ${row.mode === 'embedded' ? 'n/a' : row.stored.unique} |`,
  )
  return [
    '| scenario | events/s | full-load p99 ms | Sluice CPU µs/event | peak RSS MB | stored once |',
    '|---|---:|---:|---:|---:|---:|',
    ...lines,
  ].join('\n')
}

function formatRow(row: Row): string {
  return `${row.name}: ${row.full.eventsPerSecond} ev/s, p99 ${row.full.latency.p99} ms${row.half ? ` (half load p99 ${row.half.latency.p99} ms${row.halfInSluice ? `; in Sluice: insert p99 ${row.halfInSluice.insert.p99} ms, arrival→commit p99 ${row.halfInSluice.commitLag.p99} ms` : ''})` : ''}, peak RSS ${row.peakRssMb} MB, CPU µs/event: server ${row.cpuMicrosPerEvent.server}, Redis ${row.cpuMicrosPerEvent.redis}, ClickHouse ${row.cpuMicrosPerEvent.clickhouse}, clients ${row.cpuMicrosPerEvent.clients}, stored ${row.stored.rows}/${row.stored.unique} ${JSON.stringify(row.full.statuses)}${row.full.errors.length ? ` errors: ${row.full.errors.slice(0, 3).join('; ')}` : ''}`
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
