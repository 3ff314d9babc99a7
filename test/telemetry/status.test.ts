import { describe, expect, it } from 'vitest'
import { createRateWindow, createSampleWindow } from '../../src/telemetry/status-windows.js'
import { createStatusTracker, LAG_SAMPLES_PER_BATCH } from '../../src/telemetry/status.js'

const T0 = 1_800_000_000_000
const counts = (accepted: number, duplicates = 0, rejected = 0, failed = 0) => ({
  accepted,
  duplicates,
  rejected,
  failed,
})

/** A tracker on a clock the test moves. */
function tracked(options: Parameters<typeof createStatusTracker>[0] = {}) {
  const clock = { time: T0 }
  const tracker = createStatusTracker({ now: () => clock.time, ...options })
  return { clock, tracker }
}

describe('the status tracker', () => {
  it('counts every settled event by its result and by its transport, cumulatively', () => {
    const { tracker } = tracked()
    tracker.pipeline.submissionSettled!('rest', counts(3, 1, 2, 0))
    tracker.pipeline.submissionSettled!('ws', counts(5, 0, 0, 4))
    tracker.pipeline.submissionSettled!('rest', counts(1))
    const { events } = tracker.snapshot()
    expect(events.byResult).toEqual({ accepted: 9, duplicate: 1, rejected: 2, failed: 4 })
    expect(events.byTransport).toEqual({ rest: 7, ws: 9 })
  })

  it('reports the server clock with each snapshot, so that a reader computes rates from two', () => {
    const { clock, tracker } = tracked()
    const first = tracker.snapshot()
    tracker.pipeline.submissionSettled!('rest', counts(30))
    clock.time += 1500
    const second = tracker.snapshot()
    expect(second.time - first.time).toBe(1500)
    const rate =
      (second.events.byResult.accepted - first.events.byResult.accepted) /
      ((second.time - first.time) / 1000)
    expect(rate).toBe(20)
  })

  it('averages rates over the complete seconds of the window, leaving out the second in progress', () => {
    const { clock, tracker } = tracked({ rateWindowSeconds: 10 })
    clock.time = Math.ceil(T0 / 1000) * 1000 // a second's start
    for (let second = 0; second < 20; second++) {
      tracker.pipeline.submissionSettled!('rest', counts(10, 2))
      tracker.pipeline.submissionSettled!('ws', counts(0, 0, 0, 5))
      clock.time += 1000
    }
    // the second in progress has a burst that must not count yet
    tracker.pipeline.submissionSettled!('rest', counts(1000))
    const { rates } = tracker.snapshot()
    expect(rates.windowSeconds).toBe(10)
    expect(rates.byResult).toEqual({ accepted: 10, duplicate: 2, rejected: 0, failed: 5 })
    expect(rates.byTransport).toEqual({ rest: 12, ws: 5 })
  })

  it('lets rates fall to 0 once the window has passed without events, keeping the transports seen', () => {
    const { clock, tracker } = tracked({ rateWindowSeconds: 5 })
    tracker.pipeline.submissionSettled!('ws', counts(50))
    clock.time += 2000
    expect(tracker.snapshot().rates.byResult.accepted).toBeGreaterThan(0)
    clock.time += 6000
    const { rates, events } = tracker.snapshot()
    expect(rates.byResult.accepted).toBe(0)
    expect(rates.byTransport).toEqual({ ws: 0 })
    expect(events.byResult.accepted).toBe(50)
  })

  it('averages over the seconds since the start while they are fewer than the window', () => {
    const { clock, tracker } = tracked({ rateWindowSeconds: 60 })
    for (let second = 0; second < 3; second++) {
      clock.time = T0 + second * 1000
      tracker.pipeline.submissionSettled!('rest', counts(8))
    }
    clock.time = T0 + 3000
    // three complete seconds since the start, 8 events in each: 8/s, not 24/60
    expect(tracker.snapshot().rates.byResult.accepted).toBe(8)
  })

  it('gives the ingest lag and insert latency as p50 and p99 over the recent window', () => {
    const { clock, tracker } = tracked({ latencyWindowSeconds: 60 })
    // 100 batches of one event: lag 1..100 ms, insert 101..200 ms
    for (let i = 1; i <= 100; i++)
      tracker.pipeline.batchCommitted!(1, 100 + i, [{ receivedAt: clock.time - i }])
    const { latency } = tracker.snapshot()
    expect(latency.windowSeconds).toBe(60)
    expect(latency.ingestLagMs).toEqual({ p50: 50, p99: 99, samples: 100 })
    expect(latency.insertMs).toEqual({ p50: 150, p99: 199, samples: 100 })
  })

  it('forgets latency samples older than the window', () => {
    const { clock, tracker } = tracked({ latencyWindowSeconds: 60 })
    tracker.pipeline.batchCommitted!(1, 5000, [{ receivedAt: clock.time - 9000 }])
    clock.time += 30_000
    tracker.pipeline.batchCommitted!(1, 20, [{ receivedAt: clock.time - 40 }])
    expect(tracker.snapshot().latency.insertMs).toEqual({ p50: 20, p99: 5000, samples: 2 })
    clock.time += 31_000
    const { latency } = tracker.snapshot()
    expect(latency.insertMs).toEqual({ p50: 20, p99: 20, samples: 1 })
    expect(latency.ingestLagMs).toEqual({ p50: 40, p99: 40, samples: 1 })
    clock.time += 60_000
    expect(tracker.snapshot().latency.insertMs).toEqual({ p50: null, p99: null, samples: 0 })
  })

  it('keeps a bounded number of lag samples, evenly spaced over a large batch', () => {
    const { clock, tracker } = tracked({ lagCapacity: 4096 })
    // a batch of 10000 events received 0..9999 ms ago: the samples spread over all of it
    const committed = Array.from({ length: 10_000 }, (_, i) => ({ receivedAt: clock.time - i }))
    tracker.pipeline.batchCommitted!(committed.length, 10, committed)
    const lag = tracker.snapshot().latency.ingestLagMs
    expect(lag.samples).toBe(LAG_SAMPLES_PER_BATCH)
    expect(lag.p50).toBeGreaterThan(4500)
    expect(lag.p50).toBeLessThan(5500)
    expect(lag.p99).toBeGreaterThan(9500)
    for (let i = 0; i < 100; i++) tracker.pipeline.batchCommitted!(1, 10, [committed[0]!])
    expect(tracker.snapshot().latency.ingestLagMs.samples).toBe(LAG_SAMPLES_PER_BATCH + 100)
    for (let i = 0; i < 5000; i++) tracker.pipeline.batchCommitted!(1, 10, [committed[0]!])
    expect(tracker.snapshot().latency.ingestLagMs).toEqual({ p50: 0, p99: 0, samples: 4096 })
  })

  it("counts each route's deliveries, failed attempts, dead letters and replays", () => {
    const { tracker } = tracked()
    const { router } = tracker
    router.batchDelivered!('a', 10, 1, 5)
    router.batchDelivered!('a', 5, 2, 5)
    router.deliveryRetried!('a', new Error('503'), 1, 200)
    router.deliveryRetried!('b', new Error('ECONNREFUSED'), 1, 200)
    router.batchDeadLettered!('b', 7, 'exhausted', 'ECONNREFUSED')
    router.batchDeadLettered!('b', 3, 'rejected', 'HTTP 400')
    // never attempted: not a failed attempt
    router.batchDeadLettered!('b', 2, 'overflow', 'queue full')
    router.replayed!('b', 12)
    expect(tracker.snapshot().routes).toEqual({
      a: { delivered: 15, batches: 2, failures: 1, deadLettered: 0, replayed: 0 },
      b: { delivered: 0, batches: 0, failures: 3, deadLettered: 12, replayed: 12 },
    })
  })

  it('hands out copies: a snapshot does not change after it was taken', () => {
    const { tracker } = tracked()
    tracker.pipeline.submissionSettled!('rest', counts(1))
    tracker.router.batchDelivered!('a', 1, 1, 1)
    const before = tracker.snapshot()
    tracker.pipeline.submissionSettled!('rest', counts(1))
    tracker.router.batchDelivered!('a', 1, 1, 1)
    expect(before.events.byResult.accepted).toBe(1)
    expect(before.events.byTransport.rest).toBe(1)
    expect(before.routes.a!.delivered).toBe(1)
  })
})

describe('the rate window', () => {
  it('sums each key per second and reuses a slot once its second has passed', () => {
    const rates = createRateWindow(3, 0)
    rates.add(500, 'x', 3)
    rates.add(1500, 'x', 6)
    rates.add(2500, 'x', 9)
    rates.add(3500, 'x', 12)
    // at 4.2 s: the complete seconds 1, 2, 3
    expect(rates.perSecond(4200).get('x')).toBe((6 + 9 + 12) / 3)
    rates.add(4500, 'x', 99) // second 4 takes the slot of second 0
    expect(rates.perSecond(5000).get('x')).toBe((9 + 12 + 99) / 3)
  })
})

describe('the sample window', () => {
  it('gives nearest-rank percentiles, numerically sorted', () => {
    const samples = createSampleWindow(16)
    for (const value of [9, 100, 10, 2, 1000]) samples.add(0, value)
    expect(samples.percentiles(0)).toEqual({ p50: 10, p99: 1000, samples: 5 })
  })

  it('holds only the newest samples once full', () => {
    const samples = createSampleWindow(3)
    for (const value of [1000, 1, 2, 3]) samples.add(0, value)
    expect(samples.percentiles(0)).toEqual({ p50: 2, p99: 3, samples: 3 })
  })

  it('has no percentiles without samples', () => {
    expect(createSampleWindow(3).percentiles(0)).toEqual({ p50: null, p99: null, samples: 0 })
  })
})
