/**
 * What Sluice's own histograms say about a run: how long its inserts took, and how long its events
 * waited from arrival to commit. Read from /metrics before and after the run; the difference is the
 * run's. Set beside the clients' ack latency, it tells what bounds that latency.
 */

/** Cumulative bucket counts of one histogram, by upper bound in seconds. */
type Buckets = Map<number, number>

export interface ServerLatency {
  /** insert of one batch, first attempt to commit: p50 / p99 ms */
  readonly insert: { readonly p50: number; readonly p99: number }
  /** event received → batch committed: p50 / p99 ms */
  readonly commitLag: { readonly p50: number; readonly p99: number }
}

export interface Histograms {
  readonly insert: Buckets
  readonly commitLag: Buckets
}

export async function readHistograms(httpUrl: string): Promise<Histograms> {
  const text = await (await fetch(new URL('/metrics', httpUrl))).text()
  return {
    insert: buckets(text, 'sluice_insert_duration_seconds'),
    commitLag: buckets(text, 'sluice_ingest_lag_seconds'),
  }
}

export function latencyBetween(before: Histograms, after: Histograms): ServerLatency {
  const quantiles = (name: keyof Histograms) => {
    const delta = new Map(
      [...after[name]].map(([le, count]) => [le, count - (before[name].get(le) ?? 0)]),
    )
    return { p50: quantile(delta, 0.5), p99: quantile(delta, 0.99) }
  }
  return { insert: quantiles('insert'), commitLag: quantiles('commitLag') }
}

function buckets(text: string, name: string): Buckets {
  const found: Buckets = new Map()
  const pattern = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, 'gm')
  for (const [, le, count] of text.matchAll(pattern))
    found.set(le === '+Inf' ? Infinity : Number(le), Number(count))
  return found
}

/**
 * As Prometheus' histogram_quantile: linear within the bucket that holds the quantile, so the answer
 * is an estimate, as fine as the buckets (25, 50, 75, 100, 150, 200, 250 ms ...). In ms, rounded.
 */
export function quantile(cumulative: Buckets, q: number): number {
  const bounds = [...cumulative.keys()].sort((a, b) => a - b)
  const total = cumulative.get(Infinity) ?? 0
  if (total === 0) return NaN
  const rank = q * total
  let lower = 0
  let below = 0
  for (const upper of bounds) {
    const count = cumulative.get(upper)!
    if (count >= rank) {
      // Past the largest finite bound there is nothing to interpolate to: say the bound.
      if (upper === Infinity) return Math.round(lower * 1000)
      return Math.round(
        (lower + ((upper - lower) * (rank - below)) / Math.max(1, count - below)) * 1000,
      )
    }
    lower = upper
    below = count
  }
  return NaN
}
