import { afterEach, describe, expect, it, vi } from 'vitest'
import { createMetrics } from '../../src/telemetry/metrics.js'

const counts = (accepted: number, duplicates: number, rejected: number, failed: number) => ({
  accepted,
  duplicates,
  rejected,
  failed,
})

/** The value of one series in the exposition text, or undefined when it is not there. */
function series(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

describe('metrics: events answered', () => {
  it('counts every submission by transport and status, whenever it is read', async () => {
    const { registry, pipeline } = createMetrics()
    pipeline.submissionSettled!('ws', counts(3, 1, 0, 0))
    pipeline.submissionSettled!('ws', counts(2, 0, 1, 0))
    pipeline.submissionSettled!('rest', counts(0, 0, 0, 4))
    const first = await registry.metrics()
    expect(series(first, 'sluice_events_total{transport="ws",status="accepted"}')).toBe(5)
    expect(series(first, 'sluice_events_total{transport="ws",status="duplicate"}')).toBe(1)
    expect(series(first, 'sluice_events_total{transport="ws",status="rejected"}')).toBe(1)
    expect(series(first, 'sluice_events_total{transport="rest",status="failed"}')).toBe(4)
    expect(series(first, 'sluice_events_total{transport="rest",status="accepted"}')).toBeUndefined()
    // Read again: nothing counted twice, nothing lost; later submissions add to the totals.
    expect(
      series(await registry.metrics(), 'sluice_events_total{transport="ws",status="accepted"}'),
    ).toBe(5)
    pipeline.submissionSettled!('ws', counts(1, 0, 0, 0))
    const json = await registry.getSingleMetric('sluice_events_total')!.get()
    expect(
      json.values.find((v) => v.labels.transport === 'ws' && v.labels.status === 'accepted')?.value,
    ).toBe(6)
  })
})

describe('metrics: ingest lag', () => {
  afterEach(() => vi.useRealTimers())

  it('observes every committed event, one observation per run of equal receive times', async () => {
    // The clock stands still, so each lag is exact and no bucket bound depends on the machine's speed.
    vi.useFakeTimers({ toFake: ['Date'], now: 1_764_151_200_000 })
    const { registry, pipeline } = createMetrics()
    const now = Date.now()
    // Three frames: 3 events 20 ms old, 2 events 400 ms old, then 1 more 20 ms old (a run of its own).
    const events = [20, 20, 20, 400, 400, 20].map((age) => ({ receivedAt: now - age }))
    pipeline.batchCommitted!(events.length, 5, events)
    const text = await registry.metrics()
    expect(series(text, 'sluice_ingest_lag_seconds_count')).toBe(6)
    expect(series(text, 'sluice_ingest_lag_seconds_bucket{le="0.01"}')).toBe(0)
    expect(series(text, 'sluice_ingest_lag_seconds_bucket{le="0.025"}')).toBe(4)
    expect(series(text, 'sluice_ingest_lag_seconds_bucket{le="0.25"}')).toBe(4)
    expect(series(text, 'sluice_ingest_lag_seconds_bucket{le="0.5"}')).toBe(6)
    expect(series(text, 'sluice_ingest_lag_seconds_sum')).toBeCloseTo(0.88, 9)
  })
})
