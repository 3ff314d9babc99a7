/**
 * The two recent-window structures behind GET /v1/status: counts per second (for rates) and a ring
 * of samples (for percentiles). Both are bounded whatever the load: memory is fixed at creation.
 */

/** Counts by key in one-second slots; `perSecond` averages the last complete seconds. */
export interface RateWindow {
  add(timeMs: number, key: string, count: number): void
  /**
   * Events per second of each key over the `windowSeconds` complete seconds before `timeMs`'s own
   * (the second in progress is left out: half a second of counts would read as half the rate).
   * Less than a window since `startedMs`: averaged over the complete seconds there were.
   */
  perSecond(timeMs: number): Map<string, number>
}

export function createRateWindow(windowSeconds: number, startedMs: number): RateWindow {
  // One slot more than the window: the second in progress never overwrites one still counted.
  const slots = Array.from({ length: windowSeconds + 1 }, () => ({
    second: -1,
    counts: new Map<string, number>(),
  }))
  const startedSecond = Math.floor(startedMs / 1000)
  return {
    add(timeMs, key, count) {
      const second = Math.floor(timeMs / 1000)
      const slot = slots[second % slots.length]!
      if (slot.second !== second) {
        slot.second = second
        slot.counts.clear()
      }
      slot.counts.set(key, (slot.counts.get(key) ?? 0) + count)
    },
    perSecond(timeMs) {
      const current = Math.floor(timeMs / 1000)
      const seconds = Math.max(1, Math.min(windowSeconds, current - startedSecond))
      const sums = new Map<string, number>()
      for (const slot of slots) {
        if (slot.second >= current || slot.second < current - seconds) continue
        for (const [key, count] of slot.counts) sums.set(key, (sums.get(key) ?? 0) + count)
      }
      for (const [key, sum] of sums) sums.set(key, sum / seconds)
      return sums
    },
  }
}

export interface Percentiles {
  /** null without samples in the window */
  readonly p50: number | null
  readonly p99: number | null
  /** how many samples they were computed from */
  readonly samples: number
}

/** The most recent `capacity` samples with their times; percentiles over those inside a window. */
export interface SampleWindow {
  add(timeMs: number, value: number): void
  /** nearest-rank p50 and p99 of the samples taken at or after `sinceMs` */
  percentiles(sinceMs: number): Percentiles
}

export function createSampleWindow(capacity: number): SampleWindow {
  const values = new Float64Array(capacity)
  const times = new Float64Array(capacity)
  let next = 0
  let size = 0
  return {
    add(timeMs, value) {
      values[next] = value
      times[next] = timeMs
      next = (next + 1) % capacity
      if (size < capacity) size++
    },
    percentiles(sinceMs) {
      const recent: number[] = []
      for (let i = 0; i < size; i++) if (times[i]! >= sinceMs) recent.push(values[i]!)
      // A typed array sorts numerically (an Array's sort would compare the numbers as strings).
      const sorted = Float64Array.from(recent).sort()
      return {
        p50: rank(sorted, 0.5),
        p99: rank(sorted, 0.99),
        samples: sorted.length,
      }
    },
  }
}

/** Nearest rank: the smallest sample with at least `p` of the samples at or below it. */
function rank(sorted: Float64Array, p: number): number | null {
  if (sorted.length === 0) return null
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!
}
