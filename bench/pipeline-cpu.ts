/**
 * `npm run bench:pipeline`: Sluice's CPU per event in one process, without sockets, for A/B of a
 * change to the chain. It does what a server does between a frame's bytes and its insert body:
 * parses WebSocket frames (parseClientFrame), offers them to the real pipeline with the real Redis
 * dedupe store (REDIS_URL, default 127.0.0.1:6379) and the server's telemetry, and a sink that
 * encodes every batch as the TabSeparated body the ClickHouse sink sends, then waits a simulated
 * insert (INSERT_MS, default 30) instead of sending it; times as the bench's ClickHouse 18.16 takes them
 * (DIALECT=datetime64: as chDB takes them). Clients keep about 2,000 events each in
 * flight, as the bench's WebSocket clients do. Redis's CPU is not counted; the process's is, GC
 * included. It leaves out ws framing, the acks' socket writes and HTTP: `npm run bench -- --quick`
 * is the end-to-end check.
 *
 *   npm run bench:pipeline -- <events per frame> <events> [rounds]
 *   AGAINST=<dir> npm run bench:pipeline -- <events per frame> <events> [pairs]
 *
 * Prints user+system CPU µs per event for each round, and the median and minimum of all rounds but
 * the first (the JIT's warm-up). On shared machines one run moves by ±15% from the next, so to
 * compare two trees run them in ONE process: AGAINST=<dir> loads a second tree (a worktree of
 * another commit, with node_modules) beside this one, warms both up, then runs them in turns,
 * swapping which goes first in each pair, and prints each tree's median and the median of the
 * pairs' ratios (this tree against AGAINST's), with how many pairs this tree was the lower in.
 * An A/A run (one commit in two worktrees, 8 pairs) read +2.3%, lower in 4. PROFILE=<file> writes a CPU profile
 * (.cpuprofile) of the measured part of the last round, not of building its frames; HEAP_PROFILE=
 * <file> a sampling heap profile (.heapprofile) of what that part allocates.
 */
import { randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { map, timer } from 'rxjs'
import type { EventRow, EventSink } from '../src/streams/ports.js'

const perFrame = Number(process.argv[2] ?? 100)
const total = Number(process.argv[3] ?? 300_000)
const rounds = Number(process.argv[4] ?? 3)
const CLIENTS = 16
const WINDOW = Math.max(1, Math.ceil(2000 / perFrame))
const INSERT_MS = Number(process.env.INSERT_MS ?? 30)
// The bench's ClickHouse server is Debian's 18.16: times as epoch milliseconds. chDB: datetime64.
const DIALECT = process.env.DIALECT === 'datetime64' ? 'datetime64' : 'epoch-ms'

/** The modules a round uses, from one tree: this one, or AGAINST's. */
async function load(root: string) {
  const from = (path: string) => import(new URL(path, `file://${root}/`).href)
  return {
    root,
    frame: (await from(
      'src/adapters/ws/client-frame.ts',
    )) as typeof import('../src/adapters/ws/client-frame.js'),
    schema: (await from(
      'src/adapters/clickhouse/clickhouse-schema.ts',
    )) as typeof import('../src/adapters/clickhouse/clickhouse-schema.js'),
    store: (await from(
      'src/adapters/redis/redis-dedupe-store.ts',
    )) as typeof import('../src/adapters/redis/redis-dedupe-store.js'),
    pipeline: (await from(
      'src/streams/pipeline.ts',
    )) as typeof import('../src/streams/pipeline.js'),
    metrics: (await from(
      'src/telemetry/metrics.ts',
    )) as typeof import('../src/telemetry/metrics.js'),
    status: (await from('src/telemetry/status.ts')) as typeof import('../src/telemetry/status.js'),
    events: (await from('bench/events.ts')) as typeof import('./events.js'),
  }
}
type Tree = Awaited<ReturnType<typeof load>>

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
let encodedBytes = 0

async function round(tree: Tree, n: number, profile: boolean): Promise<number> {
  const sink: EventSink = {
    write(rows: readonly EventRow[]) {
      for (const chunk of tree.schema.tabSeparatedRows(rows, DIALECT)) encodedBytes += chunk.length
      return timer(INSERT_MS).pipe(map(() => undefined))
    },
    isRetriable: () => true,
  }
  const metrics = tree.metrics.createMetrics()
  const pipeline = tree.pipeline.createPipeline(
    {
      insertBatchMaxRows: 10_000,
      insertBatchMaxWaitMs: 50,
      insertConcurrency: 4,
      maxInflightEvents: 100_000,
      retry: { initialMs: 100, maxMs: 2000, budgetMs: 30_000 },
    },
    {
      sink,
      store: tree.store.createRedisDedupeStore({ redis, ttlSeconds: 600, reservationSeconds: 30 }),
      telemetry: tree.metrics.combineTelemetry(
        metrics.pipeline,
        tree.status.createStatusTracker().pipeline,
      ),
    },
  )
  const runId = randomUUID().slice(0, 8)
  const framesPerClient = Math.ceil(total / perFrame / CLIENTS)
  // Frames are built before the clock starts: the clients' JSON.stringify is not Sluice's work.
  const frames = Array.from({ length: CLIENTS }, (_, client) => {
    const source = tree.events.eventSource(`${runId}-${n}`, client)
    return Array.from({ length: framesPerClient }, (_, f) =>
      Buffer.from(
        JSON.stringify({
          op: 'publish',
          ref: `r${f}`,
          events: Array.from({ length: perFrame }, (_, i) => source.event(f * perFrame + i)),
        }),
      ),
    )
  })
  const limits = { maxEventsPerFrame: 1000, maxSubscriptionTypes: 100 }
  // As the server does, nothing keeps a frame's parsed events once the pipeline has them.
  const offerFrame = (data: Buffer) => {
    const frame = tree.frame.parseClientFrame(data, false, limits)
    if (frame.kind !== 'publish') throw new Error(`unexpected frame: ${frame.kind}`)
    const settled = pipeline.submit(frame.events, 'ws', data.length)
    if (settled === undefined) throw new Error('admission refused a frame')
    return settled
  }
  let accepted = 0
  const profiling = profile && process.env.PROFILE !== undefined
  if (profiling) await profiler.post('Profiler.start')
  const sampling = profile && process.env.HEAP_PROFILE !== undefined
  // Objects collected before the profile is taken are kept in it: what was allocated, not what lived.
  if (sampling)
    await profiler.post('HeapProfiler.startSampling', {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    })
  const started = process.cpuUsage()
  await Promise.all(
    frames.map(async (clientFrames) => {
      let next = 0
      const send = async (): Promise<void> => {
        while (next < clientFrames.length) {
          const results = await offerFrame(clientFrames[next++]!)
          for (const result of results) if (result.status === 'accepted') accepted++
        }
      }
      await Promise.all(Array.from({ length: WINDOW }, send))
    }),
  )
  const used = process.cpuUsage(started)
  if (sampling) {
    const { profile } = await profiler.post('HeapProfiler.stopSampling')
    writeFileSync(process.env.HEAP_PROFILE!, JSON.stringify(profile))
  }
  if (profiling) {
    const { profile } = await profiler.post('Profiler.stop')
    writeFileSync(process.env.PROFILE!, JSON.stringify(profile))
  }
  await pipeline.drain()
  const events = framesPerClient * CLIENTS * perFrame
  if (accepted !== events) throw new Error(`${accepted} of ${events} accepted`)
  return (used.user + used.system) / events
}

const median = (values: readonly number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

const profiler = new Session()
profiler.connect()
await profiler.post('Profiler.enable')
const here = await load(fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, ''))
if (process.env.AGAINST === undefined) {
  const results: number[] = []
  for (let n = 0; n < rounds; n++) {
    const us = await round(here, n, n === rounds - 1)
    results.push(us)
    console.log(`round ${n + 1}: ${us.toFixed(2)} µs CPU per event`)
  }
  // The first round warms the JIT up: the others are the measurement.
  const measured = rounds > 1 ? results.slice(1) : results
  console.log(
    `${perFrame}/frame, ${total} events × ${rounds}: median ${median(measured).toFixed(2)}, min ${Math.min(...measured).toFixed(2)} µs CPU per event (${(encodedBytes / 1e6).toFixed(0)} MB encoded)`,
  )
} else {
  const there = await load(process.env.AGAINST.replace(/\/$/, ''))
  await round(there, -1, false)
  await round(here, -2, false)
  const ours: number[] = []
  const theirs: number[] = []
  for (let pair = 0; pair < rounds; pair++) {
    const order = pair % 2 === 0 ? [here, there] : [there, here]
    for (const tree of order)
      (tree === here ? ours : theirs).push(
        await round(tree, pair * 2 + (tree === here ? 0 : 1), false),
      )
    console.log(
      `pair ${pair + 1}: this tree ${ours.at(-1)!.toFixed(2)}, AGAINST ${theirs.at(-1)!.toFixed(2)} µs CPU per event`,
    )
  }
  const ratios = ours.map((us, i) => us / theirs[i]!)
  console.log(
    `${perFrame}/frame, ${total} events, ${rounds} pairs: this tree median ${median(ours).toFixed(2)}, AGAINST (${there.root}) median ${median(theirs).toFixed(2)} µs CPU per event; paired ratio median ${((median(ratios) - 1) * 100).toFixed(1)}%, this tree lower in ${ratios.filter((r) => r < 1).length} of ${rounds}`,
  )
}
redis.disconnect()
