import {
  finalError,
  retriableError,
  type DeliveryError,
} from '../../streams/routing/delivery-error.js'

/*
 * The HTTP delivery's retry policy (API.md §8), in the manner of Vector's per-sink retry logic:
 * 2xx delivers; 408, 429 and 5xx may pass later (429 and 503 after the destination's Retry-After);
 * any other status says this batch will be refused again — including 3xx, as redirects are not
 * followed: a route whose URL redirects is misconfigured. A request that got no answer at all
 * (refused, reset, DNS, TLS, timeout) is retried: the attempt budget bounds a wrong guess.
 */

/** The first bytes of an error answer, kept for the dead letter's `error`. */
export const ERROR_BODY_CHARS = 300

/** Retry-After as milliseconds from `now`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const date = Date.parse(text)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** undefined for a 2xx; otherwise the error, classified. */
export function classifyResponse(
  status: number,
  retryAfter: string | undefined,
  body: string,
  now = Date.now(),
): DeliveryError | undefined {
  if (status >= 200 && status < 300) return undefined
  const snippet = body.replace(/\s+/g, ' ').trim().slice(0, ERROR_BODY_CHARS)
  const message = `HTTP ${status}${snippet ? `: ${snippet}` : ''}`
  if (status >= 500 || status === 408 || status === 429)
    return retriableError(message, { status, retryAfterMs: parseRetryAfter(retryAfter, now) })
  return finalError(message, { status })
}

/** A request that got no answer. */
export function classifyNetworkError(error: unknown): DeliveryError {
  const { code } = error as { code?: unknown }
  const text = error instanceof Error ? error.message : String(error)
  return retriableError(
    typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text,
    { cause: error },
  )
}
