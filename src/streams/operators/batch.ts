import { asyncScheduler, bufferTime, filter, type OperatorFunction, type SchedulerLike } from 'rxjs'

export interface BatchOptions {
  /** a batch is emitted as soon as it holds this many items (INSERT_BATCH_MAX_ROWS) */
  readonly maxRows: number
  /** ... or when this much time has passed since it was opened (INSERT_BATCH_MAX_WAIT_MS) */
  readonly maxWaitMs: number
  readonly scheduler?: SchedulerLike
}

/**
 * Groups items into batches by size and by time; never emits an empty batch.
 *
 * ```
 * maxRows 3, maxWaitMs 5 (frames of 1 ms)
 * source: -abcd-------e----|
 * batch:  ---x----y----z---|     x = [a,b,c], y = [d], z = [e]
 * ```
 *
 * A full batch closes at once and opens the next, whose wait starts then: y closes 5 ms after x,
 * z 5 ms after y. The buffers that close empty (the one open when the source completes, and every
 * one while it is idle) are dropped.
 *
 * @example
 * envelopes$.pipe(batch({ maxRows: 10_000, maxWaitMs: 20 }))
 */
export function batch<T>(options: BatchOptions): OperatorFunction<T, T[]> {
  const { maxRows, maxWaitMs, scheduler = asyncScheduler } = options
  return (source) =>
    source.pipe(
      // bufferTime opens a buffer every maxWaitMs even when idle; the empty ones are dropped here.
      bufferTime(maxWaitMs, null, maxRows, scheduler),
      filter((rows) => rows.length > 0),
    )
}
