import fc from 'fast-check'
import { Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { CountedHistogram } from '../../src/telemetry/counted-histogram.js'

const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 30]

/** The exposition's lines, with `_sum`'s value apart: a sum of n additions and one of n × value may differ in the last bit. */
function split(text: string): { lines: string[]; sum: number } {
  const lines = text.trim().split('\n')
  const sumLine = lines.find((line) => line.startsWith('lag_seconds_sum '))!
  return {
    lines: lines.filter((line) => line !== sumLine),
    sum: Number(sumLine.slice('lag_seconds_sum '.length)),
  }
}

describe('CountedHistogram', () => {
  it('reads as prom-client’s Histogram observed the same values one at a time', async () => {
    // Values on the bounds themselves, between them and past the last.
    const value = fc.oneof(
      fc.constantFrom(...BOUNDS),
      fc.integer({ min: 0, max: 40 * 1024 }).map((n) => n / 1024),
    )
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(value, fc.integer({ min: 1, max: 50 })), { maxLength: 30 }),
        async (observations) => {
          const ours = new Registry()
          const theirs = new Registry()
          const counted = new CountedHistogram('lag_seconds', 'help text', BOUNDS, [ours])
          const reference = new Histogram({
            name: 'lag_seconds',
            help: 'help text',
            buckets: BOUNDS,
            registers: [theirs],
          })
          for (const [v, times] of observations) {
            counted.observe(v, times)
            for (let i = 0; i < times; i++) reference.observe(v)
          }
          const a = split(await ours.metrics())
          const b = split(await theirs.metrics())
          expect(a.lines).toEqual(b.lines)
          expect(a.sum).toBeCloseTo(b.sum, 9)
        },
      ),
    )
  })

  it('starts again from nothing when reset', async () => {
    const registry = new Registry()
    const counted = new CountedHistogram('lag_seconds', 'help text', BOUNDS, [registry])
    counted.observe(0.02, 7)
    counted.reset()
    counted.observe(2, 1)
    const text = await registry.metrics()
    expect(text).toContain('lag_seconds_bucket{le="30"} 1')
    expect(text).toContain('lag_seconds_bucket{le="1"} 0')
    expect(text).toContain('lag_seconds_count 1')
  })
})
