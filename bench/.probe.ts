import { spawn } from 'node:child_process'
import { drive } from '/work/main/bench/drive.js'
const db = 'sluice_probe_' + Date.now()
const extra = JSON.parse(process.argv[2] ?? '{}')
const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: '/work/main', env: { ...process.env, PORT: '0', REDIS_URL: 'redis://127.0.0.1:6379', CLICKHOUSE_URL: 'http://127.0.0.1:8123', CLICKHOUSE_DATABASE: db, LOG_LEVEL: 'info', ...extra }, stdio: ['ignore', 'pipe', 'inherit'] })
let out = ''
const port = await new Promise<number>((r) => child.stdout!.on('data', (d) => { out += d; const m = /http :(\d+)/.exec(out); if (m) r(Number(m[1])) }))
const result = await drive({ transport: 'rest', url: `http://127.0.0.1:${port}`, runId: 'p' + Date.now(), processes: 2, connectionsPerProcess: 8, eventsPerFrame: 1000, totalEvents: 300_000, window: 1 })
console.log(JSON.stringify(extra), result.eventsPerSecond, result.latency)
const m = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
console.log(m.split('\n').filter((l) => /^sluice_(insert_duration_seconds_(sum|count)|batches_committed|rows_committed|ingest_lag_seconds_(sum|count))/.test(l)).join('\n'))
child.kill('SIGTERM')
await new Promise((r) => child.once('exit', r))
