import { describe, expect, it } from 'vitest'
import { latencyBetween, quantile } from '../../bench/server-latency.js'

const cumulative = (pairs: Array<[number, number]>) => new Map(pairs)

describe('bench: quantiles of Sluice histograms', () => {
  it('interpolates linearly inside the bucket that holds the quantile, as histogram_quantile does', () => {
    // 100 observations: 50 up to 10 ms, 40 in (10, 50] ms, 10 in (50, 100] ms
    const h = cumulative([
      [0.01, 50],
      [0.05, 90],
      [0.1, 100],
      [Infinity, 100],
    ])
    expect(quantile(h, 0.5)).toBe(10)
    expect(quantile(h, 0.7)).toBe(30)
    expect(quantile(h, 0.99)).toBe(95)
  })

  it('says the largest finite bound when the quantile lies past it, and NaN when nothing was observed', () => {
    expect(
      quantile(
        cumulative([
          [0.1, 1],
          [Infinity, 10],
        ]),
        0.99,
      ),
    ).toBe(100)
    expect(
      quantile(
        cumulative([
          [0.1, 0],
          [Infinity, 0],
        ]),
        0.5,
      ),
    ).toBeNaN()
  })

  it('takes the run as the difference of two readings', () => {
    const before = {
      insert: cumulative([
        [0.01, 10],
        [0.1, 10],
        [Infinity, 10],
      ]),
      commitLag: cumulative([
        [0.01, 0],
        [0.1, 0],
        [Infinity, 0],
      ]),
    }
    const after = {
      insert: cumulative([
        [0.01, 10],
        [0.1, 20],
        [Infinity, 20],
      ]),
      commitLag: cumulative([
        [0.01, 5],
        [0.1, 10],
        [Infinity, 10],
      ]),
    }
    // The run's 10 inserts were all in (10, 100] ms; the 10 readings before it, all under 10 ms, do not
    // count. Its lags: 5 up to 10 ms, 5 in (10, 100] ms, so p99 = 10 + 90 × (9.9 − 5) / 5 ms.
    expect(latencyBetween(before, after)).toEqual({
      insert: { p50: 55, p99: 99 },
      commitLag: { p50: 10, p99: 98 },
    })
  })
})
