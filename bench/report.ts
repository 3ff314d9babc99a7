import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import type { LoadResult } from './drive.js'
import type { ServerLatency } from './server-latency.js'

/** What a scenario is: the same fields in the bench's plan and in its report. */
export interface ScenarioShape {
  readonly name: string
  readonly mode: 'sluice' | 'embedded' | 'baseline'
  readonly transport: 'rest' | 'ws' | 'segment'
  readonly eventsPerFrame: number
  readonly connections: number
  readonly events: number
}

export interface Row extends ScenarioShape {
  readonly full: LoadResult
  readonly half?: LoadResult
  /** what Sluice's own histograms say of the half-load run */
  readonly halfInSluice?: ServerLatency
  readonly peakRssMb: number
  /** CPU µs per event of each process on the machine during the full-load run (= CPU s per million events) */
  readonly cpuMicrosPerEvent: {
    readonly server: number
    readonly redis: number
    readonly clickhouse: number
    readonly clients: number
  }
  readonly stored: { readonly checked: boolean; readonly rows: number; readonly unique: number }
}

export interface Report {
  readonly rows: Row[]
  readonly floorEventsPerSecond: number
  readonly machine: string
  readonly scale: number
  readonly date: string
  readonly idle?: {
    readonly connections: number
    readonly rssBeforeMb: number
    readonly rssAfterMb: number
  }
}

/** Every accepted event is in ClickHouse, once: a run that loses or doubles events is not a result. */
export function storedExactlyOnce(row: Row): boolean | undefined {
  if (!row.stored.checked) return undefined
  return (
    row.stored.rows === row.stored.unique && row.stored.unique === (row.full.statuses.accepted ?? 0)
  )
}

const inSluice = ({ halfInSluice: h }: Row) =>
  h ? `${h.insert.p50} / ${h.insert.p99} · ${h.commitLag.p50} / ${h.commitLag.p99}` : '—'
const latency = (r?: LoadResult) =>
  r ? `${r.latency.p50} / ${r.latency.p95} / ${r.latency.p99}` : '—'
const cpu = ({ cpuMicrosPerEvent: c }: Row) =>
  `${c.server} / ${c.redis} / ${c.clickhouse} / ${c.clients}`
const thousands = (n: number) => Math.round(n).toLocaleString('en-US')

export function writeReport(report: Report): void {
  const baselineFor = (row: Row) =>
    report.rows.find(
      (b) =>
        b.mode === 'baseline' &&
        b.transport === row.transport &&
        b.eventsPerFrame === row.eventsPerFrame &&
        b.connections === row.connections,
    )
  const lines = report.rows.map((row) => {
    const check = storedExactlyOnce(row)
    const baseline = row.mode === 'baseline' ? undefined : baselineFor(row)
    const ratios =
      row.mode === 'baseline'
        ? '—'
        : `${baseline ? `${thousands(row.full.eventsPerSecond / baseline.full.eventsPerSecond)}× per-event; ` : ''}${Math.round((row.full.eventsPerSecond / report.floorEventsPerSecond) * 100)}% of floor`
    return `| ${row.name} | ${thousands(row.full.eventsPerSecond)} | ${latency(row.full)} | ${latency(row.half)} | ${inSluice(row)} | ${row.peakRssMb} | ${cpu(row)} | ${check === undefined ? 'n/a (embedded)' : check ? `yes (${thousands(row.stored.unique)})` : `**NO**: ${row.stored.rows} rows, ${row.stored.unique} ids, ${row.full.statuses.accepted ?? 0} accepted`} | ${ratios} |`
  })
  const markdown = `# Benchmarks

Measured by \`npm run bench\` on ${report.date.slice(0, 10)} (BENCH_SCALE=${report.scale}).

**Machine:** ${report.machine}. Redis, ClickHouse, Sluice and the client processes all share these cores.

Sluice runs as its own process, as \`npm start\` runs it (\`node dist/main.js\`, Redis + ClickHouse server unless marked embedded),
with the default configuration (insert batches of up to 10,000 rows or 20 ms, 4 inserts in flight).
Clients are separate processes (two for 16 connections) on real sockets. "Full load" keeps every
connection busy (WebSocket: about 2,000 events in flight per connection; REST: one request per
connection); "half load" sends on a fixed schedule at half the full-load rate. Latency is per frame
or request, from send to ack, in ms. CPU is what each process on the machine spent during the
full-load run, per event (the server is Sluice, or the baseline). After each run the bench checks in ClickHouse that every
accepted event is stored exactly once.

The **per-event design** is the hand-rolled service Sluice replaces (per event, in sequence: validate,
Redis EXISTS, a one-row INSERT, Redis SETEX) behind the same protocol, driven by the same clients with
the same events. The **floor** is the same rows inserted in batches of 10,000 from one process with
no validation, dedupe or transport: **${thousands(report.floorEventsPerSecond)} events/s**.

| scenario | events/s | full load p50 / p95 / p99 ms | half load p50 / p95 / p99 ms | half load in Sluice, ms: insert p50 / p99 · arrival→commit p50 / p99 | peak RSS MB | CPU µs per event: server / Redis / ClickHouse / clients | stored exactly once | ratios |
|---|---:|---|---|---|---:|---:|---|---|
${lines.join('\n')}

${report.idle ? `**Idle WebSocket connections:** ${thousands(report.idle.connections)} open connections took the server from ${report.idle.rssBeforeMb} MB to ${report.idle.rssAfterMb} MB of RSS (+${report.idle.rssAfterMb - report.idle.rssBeforeMb} MB).\n` : ''}
![events/s by frame size](docs/bench-chart.svg)
`
  // The analysis is written by hand from profiles (node --cpu-prof) and kept beside the bench.
  const analysis = existsSync('bench/analysis.md')
    ? `\n${readFileSync('bench/analysis.md', 'utf8')}`
    : ''
  writeFileSync('BENCHMARKS.md', markdown + analysis)
  writeFileSync('docs/bench-chart.svg', chart(report))
  writeFileSync('bench/last-run.json', JSON.stringify(report, null, 2))
}

/** events/s by frame size, log scale: Sluice (16 connections), the per-event design, the floor. */
function chart(report: Report): string {
  const width = 720
  const height = 420
  const left = 80
  const bottom = 360
  const top = 40
  const sizes = [1, 10, 100, 1000]
  const x = (size: number) =>
    left + (sizes.indexOf(size) / (sizes.length - 1)) * (width - left - 40)
  const max =
    Math.max(report.floorEventsPerSecond, ...report.rows.map((r) => r.full.eventsPerSecond)) * 2
  const min = Math.max(1, Math.min(...report.rows.map((r) => r.full.eventsPerSecond)) / 2)
  const y = (v: number) =>
    bottom -
    ((Math.log10(v) - Math.log10(min)) / (Math.log10(max) - Math.log10(min))) * (bottom - top)
  const series = (rows: Row[], colour: string, label: string, offset: number) => {
    const points = rows
      .filter((r) => sizes.includes(r.eventsPerFrame))
      .sort((a, b) => a.eventsPerFrame - b.eventsPerFrame)
    if (points.length === 0) return ''
    const path = points
      .map(
        (r, i) =>
          `${i === 0 ? 'M' : 'L'}${x(r.eventsPerFrame).toFixed(1)},${y(r.full.eventsPerSecond).toFixed(1)}`,
      )
      .join(' ')
    const dots = points
      .map(
        (r) =>
          `<circle cx="${x(r.eventsPerFrame).toFixed(1)}" cy="${y(r.full.eventsPerSecond).toFixed(1)}" r="4" fill="${colour}"><title>${r.name}: ${thousands(r.full.eventsPerSecond)} events/s</title></circle>`,
      )
      .join('')
    return `<path d="${path}" stroke="${colour}" stroke-width="2" fill="none"/>${dots}<text x="${width - 250}" y="${top + offset}" fill="${colour}" font-size="13">${label}</text>`
  }
  const ticks = []
  for (let p = Math.ceil(Math.log10(min)); p <= Math.floor(Math.log10(max)); p++) {
    ticks.push(
      `<line x1="${left}" x2="${width - 30}" y1="${y(10 ** p)}" y2="${y(10 ** p)}" stroke="#ddd"/><text x="${left - 8}" y="${y(10 ** p) + 4}" text-anchor="end" font-size="12">${thousands(10 ** p)}</text>`,
    )
  }
  // The plain full-load scenarios only: not the duplicate, embedded or flood variants.
  const ws16 = report.rows.filter(
    (r) =>
      r.mode === 'sluice' &&
      r.transport === 'ws' &&
      r.connections === 16 &&
      !/duplicates|flood/.test(r.name),
  )
  const baseline = report.rows.filter((r) => r.mode === 'baseline' && r.transport === 'ws')
  const floorY = y(report.floorEventsPerSecond)
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${left}" y="24" font-size="16">events/s by events per WebSocket frame (log scale)</text>
${ticks.join('\n')}
${sizes.map((s) => `<text x="${x(s)}" y="${bottom + 20}" text-anchor="middle" font-size="12">${s}</text>`).join('')}
<text x="${(left + width) / 2}" y="${bottom + 42}" text-anchor="middle" font-size="12">events per frame</text>
<line x1="${left}" x2="${width - 30}" y1="${floorY}" y2="${floorY}" stroke="#888" stroke-dasharray="6 4"/>
<text x="${width - 250}" y="${top + 48}" fill="#888" font-size="13">floor: bare batched inserts (${thousands(report.floorEventsPerSecond)}/s)</text>
${series(ws16, '#1f77b4', 'Sluice, 16 connections', 0)}
${series(baseline, '#d62728', 'per-event design', 24)}
</svg>
`
}

// `node --import tsx bench/report.ts` writes BENCHMARKS.md and the chart again from bench/last-run.json.
if (process.argv[1]?.endsWith('report.ts'))
  writeReport(JSON.parse(readFileSync('bench/last-run.json', 'utf8')) as Report)
