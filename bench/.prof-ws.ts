import { spawn } from 'node:child_process'
import { drive } from '/work/main/bench/drive.js'
const db = 'sluice_prof_' + Date.now()
const per = Number(process.argv[2] ?? 1)
const child = spawn(process.execPath, [...(process.env.EXTRA ? process.env.EXTRA.split(' ') : []), '--cpu-prof', '--cpu-prof-dir=/tmp/prof', '--import', 'tsx', 'src/main.ts'], { cwd: '/work/main', env: { ...process.env, PORT: '0', WS_PORT: '0', REDIS_URL: 'redis://127.0.0.1:6379', CLICKHOUSE_URL: 'http://127.0.0.1:8123', CLICKHOUSE_DATABASE: db, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'inherit'] })
let out = ''
const port = await new Promise<number>((r) => child.stdout!.on('data', (d) => { out += d; const m = /ws :(\d+)/.exec(out); if (m) r(Number(m[1])) }))
const result = await drive({ transport: 'ws', url: `ws://127.0.0.1:${port}`, runId: 'p' + Date.now(), processes: 1, connectionsPerProcess: 4, eventsPerFrame: per, totalEvents: per === 1 ? 40_000 : 300_000, window: Math.max(2, Math.ceil(2000 / per)) })
console.log(per, result.eventsPerSecond, result.latency)
child.kill('SIGTERM')
await new Promise((r) => child.once('exit', r))
