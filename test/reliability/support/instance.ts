import { readFileSync } from 'node:fs'
import { startProcess, type RunningSluice } from '../../support/process.js'

/** A Sluice process (`src/main.ts`, as `npm start` runs it) with what the reliability tests read from outside. */
export interface Instance extends RunningSluice {
  readonly pid: number
  readonly alive: boolean
  /** GET /metrics, as `name{labels}` → value */
  metrics(): Promise<Map<string, number>>
  /** GET /ready */
  ready(): Promise<{ status: number; body: ReadyBody }>
  /** the process's resident memory now and at its peak, in KiB (/proc/<pid>/status) */
  memory(): { rssKb: number; peakKb: number }
}

export interface ReadyBody {
  status: string
  checks: Record<string, { status: 'ok' | 'fail'; backend: string; error?: string }>
}

/** Starts `src/main.ts` on free ports with the given environment (at LOG_LEVEL info: startProcess reads the listening line). */
export async function launch(env: Record<string, string>): Promise<Instance> {
  const running = await startProcess(env)
  const pid = running.child.pid!
  return Object.assign(running, {
    pid,
    get alive() {
      return running.child.exitCode === null && running.child.signalCode === null
    },
    async metrics() {
      const text = await (await fetch(`${running.url}/metrics`)).text()
      return parseMetrics(text)
    },
    async ready() {
      const response = await fetch(`${running.url}/ready`)
      return { status: response.status, body: (await response.json()) as ReadyBody }
    },
    memory() {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8')
      const kb = (field: string) =>
        Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
      return { rssKb: kb('VmRSS'), peakKb: kb('VmHWM') }
    },
  })
}

/** Prometheus text format → `name{labels}` (labels as written) → value. */
export function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    values.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return values
}

/** The sum of every series of a metric whose labels contain all of `labels` (e.g. 'operation="claim"'). */
export function metric(values: Map<string, number>, name: string, ...labels: string[]): number {
  let sum = 0
  for (const [key, value] of values) {
    const brace = key.indexOf('{')
    const base = brace === -1 ? key : key.slice(0, brace)
    if (base === name && labels.every((label) => key.includes(label))) sum += value
  }
  return sum
}

/**
 * Samples the instance while a test runs: events and bytes in flight (the admission bounds), /ready
 * (unless `ready: false`: a stalled storage makes it slow), and the resident memory. `stop()` ends
 * the sampling and returns what was seen.
 */
export function watch(instance: Instance, everyMs = 100, options: { ready?: boolean } = {}) {
  const seen = {
    maxInflight: 0,
    maxBytesInFlight: 0,
    readyStatuses: [] as Array<{ at: number; status: number; clickhouse?: string; redis?: string }>,
    peakRssKb: 0,
    samples: 0,
  }
  let running = true
  const loop = (async () => {
    while (running && instance.alive) {
      seen.peakRssKb = Math.max(seen.peakRssKb, instance.memory().rssKb)
      try {
        const [values, ready] = await Promise.all([
          instance.metrics(),
          options.ready === false ? undefined : instance.ready(),
        ])
        seen.maxInflight = Math.max(seen.maxInflight, values.get('sluice_events_in_flight') ?? 0)
        seen.maxBytesInFlight = Math.max(
          seen.maxBytesInFlight,
          values.get('sluice_bytes_in_flight') ?? 0,
        )
        if (ready)
          seen.readyStatuses.push({
            at: Date.now(),
            status: ready.status,
            clickhouse: ready.body.checks.clickhouse?.status,
            redis: ready.body.checks.redis?.status,
          })
        seen.samples++
      } catch {
        // the instance is going away (crash test) or busy: the next sample tells
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs))
    }
  })()
  return {
    seen,
    async stop() {
      running = false
      await loop
      return seen
    },
  }
}
