/**
 * The REST load driven by autocannon instead of the bench's own client: the same events, batches
 * and connections (bench/events.ts), as a cross-check that the REST numbers are Sluice's and not an
 * artefact of a load generator written here. Closed loop, one request in flight per connection,
 * as the bench's REST client. Speaks the bench client's protocol (a ClientJob in, a ClientReport out).
 */
import autocannon from 'autocannon'
import type { ClientJob, ClientReport } from './client.js'
import { eventSource } from './events.js'

async function run(job: ClientJob): Promise<ClientReport> {
  const source = eventSource(job.runId, job.client, job.duplicateRate)
  const requests = Math.ceil(job.totalEvents / job.eventsPerFrame)
  let next = 0
  const body = () => {
    const count = Math.min(job.eventsPerFrame, job.totalEvents - next)
    const events = new Array<unknown>(count)
    for (let i = 0; i < count; i++) events[i] = source.event(next++)
    return JSON.stringify({ events })
  }
  const statuses: Record<string, number> = {}
  const latencies: number[] = []
  const errors: string[] = []
  const cpuAtStart = process.cpuUsage()
  const startedAt = performance.now()
  let finish!: (result: autocannon.Result) => void
  let fail!: (error: unknown) => void
  const done = new Promise<autocannon.Result>(
    (resolve, reject) => ((finish = resolve), (fail = reject)),
  )
  const options: autocannon.Options = {
    url: new URL('/v1/events/batch', job.url).href,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    connections: job.connections,
    amount: requests,
    timeout: 120,
    requests: [
      {
        setupRequest: (request) => ({ ...request, body: body() }),
        onResponse: (status, text) => {
          if (status !== 200) return void errors.push(`HTTP ${status}: ${text.slice(0, 200)}`)
          const { results } = JSON.parse(text) as { results: Array<{ status: string }> }
          for (const result of results) statuses[result.status] = (statuses[result.status] ?? 0) + 1
        },
      },
    ],
  }
  // With a callback autocannon returns its instance, whose 'response' events carry each latency.
  const instance = autocannon(options, (error, result) => (error ? fail(error) : finish(result)))
  instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime))
  const result = await done
  const endedAt = performance.now()
  if (result.errors > 0)
    errors.push(`autocannon: ${result.errors} errors, ${result.timeouts} timeouts`)
  const cpu = process.cpuUsage(cpuAtStart)
  return {
    sent: job.totalEvents,
    statuses,
    latencies,
    startedAt,
    endedAt,
    errors,
    timeOrigin: performance.timeOrigin,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  }
}

process.once('message', (job: ClientJob) => {
  run(job).then(
    (report) => process.send!(report, () => process.exit(0)),
    (error: unknown) => process.send!({ error: String(error) }, () => process.exit(1)),
  )
})
