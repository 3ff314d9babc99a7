import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { ClientJob, ClientReport } from './client.js'

const CLIENT = fileURLToPath(new URL('./client.ts', import.meta.url))
const AUTOCANNON = fileURLToPath(new URL('./autocannon-client.ts', import.meta.url))

export interface Load {
  readonly transport: 'rest' | 'ws' | 'segment'
  readonly url: string
  readonly runId: string
  readonly processes: number
  readonly connectionsPerProcess: number
  readonly eventsPerFrame: number
  readonly totalEvents: number
  readonly window: number
  /** events/s over all processes: a fixed (open-loop) load; absent: full load */
  readonly rate?: number
  readonly duplicateRate?: number
  /** WS through sluice/client */
  readonly viaClient?: boolean
  /** REST driven by autocannon (bench/autocannon-client.ts) instead of the bench's own client */
  readonly autocannon?: boolean
}

export interface LoadResult {
  readonly eventsPerSecond: number
  readonly seconds: number
  readonly statuses: Record<string, number>
  readonly latency: { p50: number; p95: number; p99: number }
  readonly errors: string[]
  /** CPU the client processes spent, all together */
  readonly clientCpuSeconds: number
}

/** Runs the load from separate client processes and merges what they report. */
export async function drive(load: Load): Promise<LoadResult> {
  const perProcess = Math.ceil(load.totalEvents / load.processes)
  const reports = await Promise.all(
    Array.from({ length: load.processes }, (_, client) => {
      const job: ClientJob = {
        transport: load.transport,
        url: load.url,
        runId: load.runId,
        client,
        connections: load.connectionsPerProcess,
        eventsPerFrame: load.eventsPerFrame,
        totalEvents: perProcess,
        window: load.window,
        ...(load.rate !== undefined && { rate: load.rate / load.processes }),
        ...(load.duplicateRate !== undefined && { duplicateRate: load.duplicateRate }),
        ...(load.viaClient && { viaClient: true }),
      }
      return runClient(job, load.autocannon ? AUTOCANNON : CLIENT)
    }),
  )
  const started = Math.min(...reports.map((r) => r.startedAt + r.timeOrigin))
  const ended = Math.max(...reports.map((r) => r.endedAt + r.timeOrigin))
  const statuses: Record<string, number> = {}
  for (const report of reports)
    for (const [status, n] of Object.entries(report.statuses))
      statuses[status] = (statuses[status] ?? 0) + n
  const latencies = reports.flatMap((r) => r.latencies).sort((a, b) => a - b)
  const at = (q: number) =>
    round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN)
  const seconds = (ended - started) / 1000
  return {
    eventsPerSecond: Math.round((perProcess * load.processes) / seconds),
    seconds: round(seconds),
    statuses,
    latency: { p50: at(0.5), p95: at(0.95), p99: at(0.99) },
    errors: reports.flatMap((r) => r.errors),
    clientCpuSeconds: reports.reduce((sum, r) => sum + r.cpuSeconds, 0),
  }
}

function runClient(job: ClientJob, module: string): Promise<ClientReport> {
  return new Promise((resolve, reject) => {
    const child = fork(module, {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    child.once('message', (message: ClientReport | { error: string }) =>
      'error' in message ? reject(new Error(message.error)) : resolve(message),
    )
    child.once('exit', (code) => code !== 0 && reject(new Error(`client exited ${code}`)))
    child.send(job)
  })
}

const round = (n: number) => Math.round(n * 100) / 100
