/** How long to wait before the next attempt: exponential, capped, with full jitter. */
export interface BackoffOptions {
  /** the cap of the first wait (default 100 ms) */
  readonly initialMs?: number
  /** the cap of any wait (default 10000 ms) */
  readonly maxMs?: number
}

export const BACKOFF_DEFAULTS = { initialMs: 100, maxMs: 10_000 } as const

/**
 * "Full jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter"): a wait drawn uniformly
 * from [0, min(maxMs, initialMs · 2^attempt)). Many clients cut off by one server restart then
 * come back spread over the window instead of all at once.
 */
export function backoffDelay(
  attempt: number,
  { initialMs, maxMs }: Required<BackoffOptions>,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30))
  return Math.floor(random() * ceiling)
}
