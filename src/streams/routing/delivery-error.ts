/**
 * The delivery port's typed failure, in the manner of Benthos' `ErrBackOff{Wait}`: an adapter says
 * whether the same batch may succeed later, and how long the destination asked us to wait; the
 * router does the waiting, counting and giving up.
 */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError'
  constructor(
    message: string,
    /** network errors, timeouts, 408, 429, 5xx: another attempt may succeed */
    readonly retriable: boolean,
    /** the destination's Retry-After, in ms */
    readonly retryAfterMs?: number,
    /** the HTTP status, when there was an answer */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

export function retriableError(
  message: string,
  details: { retryAfterMs?: number; status?: number; cause?: unknown } = {},
): DeliveryError {
  return new DeliveryError(message, true, details.retryAfterMs, details.status, {
    cause: details.cause,
  })
}

export function finalError(
  message: string,
  details: { status?: number; cause?: unknown } = {},
): DeliveryError {
  return new DeliveryError(message, false, undefined, details.status, { cause: details.cause })
}

/**
 * What the router makes of any error. An error an adapter did not classify (a plain Error, a bug)
 * is retried: the route's attempt budget bounds the cost of a wrong guess, while calling it final
 * would send a batch to dead letters for what may be a passing fault.
 */
export function classify(error: unknown): {
  readonly retriable: boolean
  readonly retryAfterMs?: number
} {
  if (error instanceof DeliveryError) return error
  return { retriable: true }
}

/** One line for dead letters and logs. */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error)
  return text.split('\n')[0]!.slice(0, 500)
}
