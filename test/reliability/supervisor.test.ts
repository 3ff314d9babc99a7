import { randomUUID } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { CLICKHOUSE_URL, dropDatabase, REDIS_URL } from '../support/services.js'
import { launch, metric, type Instance } from './support/instance.js'
import {
  eventSource,
  Ledger,
  post,
  resendUntilSettled,
  restWorker,
  sleep,
  wsWorker,
} from './support/load.js'
import { privateDatabase } from './support/stored.js'

// Issue 13.3: a stage that throws unexpectedly under load. The supervisor restarts the chain; every
// event that was in flight still gets its one answer (failed), admission and dedupe reservations
// are given back, and a re-send is taken at once.

const TRANSFORMS = 'test/reliability/support/throwing-transforms.mjs'
/** far longer than the re-send deadline below: a reservation left behind would fail its re-sends until then */
const RESERVATION_SECONDS = 120
const RESEND_DEADLINE_MS = 15_000

let instance: Instance | undefined
const database = privateDatabase('supervisor')
afterAll(async () => {
  await instance?.stop('SIGKILL')
  await dropDatabase(database)
})

describe('the pipeline supervisor in a process under load', () => {
  it('answers every event once when a stage throws (REST and WebSocket), the in-flight gauge returns to zero, and re-sends are accepted', async () => {
    instance = await launch({
      REDIS_URL,
      CLICKHOUSE_URL,
      CLICKHOUSE_DATABASE: database,
      TRANSFORMS_MODULE: TRANSFORMS,
      DEDUPE_RESERVATION_SECONDS: String(RESERVATION_SECONDS),
      INSERT_BATCH_MAX_WAIT_MS: '50',
    })
    const run = randomUUID()
    const ledger = new Ledger()
    const next = eventSource(`supervisor-${run}`, 'supervisor.load')
    let loading = true
    const running = () => loading
    const workers = [
      restWorker({
        url: instance.url,
        ledger,
        next: () => next(50),
        running,
        via: 'rest',
        pauseMs: 20,
      }),
      restWorker({
        url: instance.url,
        ledger,
        next: () => next(50),
        running,
        via: 'rest',
        pauseMs: 20,
      }),
      wsWorker({
        url: instance.wsUrl,
        ledger,
        next: () => next(25),
        running,
        via: 'ws',
        window: 6,
        intervalMs: 20,
      }),
      wsWorker({
        url: instance.wsUrl,
        ledger,
        next: () => next(25),
        running,
        via: 'ws',
        window: 6,
        intervalMs: 20,
      }),
    ]
    // Every 250 ms a request whose crash event breaks the chain while the workers' events are in flight.
    const crashes: Array<{ status: number; body: { results?: Array<{ status: string }> } }> = []
    for (let i = 0; i < 12; i++) {
      await sleep(250)
      crashes.push(
        await post(instance.url, '/v1/events/batch', {
          events: [{ id: `crash-${run}-${i}`, type: 'crash.now' }],
        }),
      )
    }
    loading = false
    await Promise.all(workers)

    const metrics = await instance.metrics()
    const restarts = metric(metrics, 'sluice_pipeline_restarts_total')
    const failed = ledger.ever('failed')
    console.info(
      `supervisor: ${ledger.events.size} events in ${ledger.counts.requests} requests and ${ledger.counts.frames} frames; ${restarts} restarts; ${failed.length} answered failed`,
    )

    // One answer per event, in order, for every request and frame (Ledger.record checks each one).
    expect(ledger.unexpected).toEqual([])
    expect(
      [...ledger.events.keys()].filter((id) => (ledger.answers.get(id)?.length ?? 0) !== 1),
    ).toEqual([])
    expect(crashes.map((crash) => `${crash.status}:${crash.body.results?.[0]?.status}`)).toEqual(
      crashes.map(() => '200:failed'),
    )
    expect(restarts).toBe(crashes.length)
    // Restarts landed while other clients' events were in flight: they were answered, not stranded.
    expect(failed.length).toBeGreaterThan(0)

    // Admission: nothing is held once every client has its answers.
    expect(metric(await instance.metrics(), 'sluice_events_in_flight')).toBe(0)
    // Dedupe: the reservations of the events answered failed were released, so their re-sends are
    // taken now, not after RESERVATION_SECONDS.
    const left = await resendUntilSettled(
      instance.url,
      ledger,
      failed,
      'resend',
      RESEND_DEADLINE_MS,
    )
    expect(left).toEqual([])
    expect(failed.filter((id) => ledger.last(id) !== 'accepted')).toEqual([])
  }, 90_000)
})
