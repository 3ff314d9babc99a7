import { BACKOFF_DEFAULTS, type BackoffOptions } from './backoff.js'
import type { WebSocketConstructor } from './web-socket.js'

export interface ClientOptions {
  /** `ws://host:8080` or `wss://…`: Sluice's WebSocket port (API.md §4) */
  readonly url: string
  /** sent as `?api_key=` (browsers cannot set headers on an upgrade); needed when Sluice has API_KEYS */
  readonly apiKey?: string
  /** unanswered events at most (default 10000); `publish` waits for room */
  readonly maxInflightEvents?: number
  /** how long an event's re-sends may go on after its first trouble (a `failed` answer, a lost connection) before it is reported `failed` (default 60000) */
  readonly retryBudgetMs?: number
  /** events per frame at most (default 1000); the server's welcome can lower it, never raise it */
  readonly maxEventsPerFrame?: number
  /** the waits between reconnects and between re-sends of `failed` events (default 100 ms doubling to 10 s, full jitter) */
  readonly backoff?: BackoffOptions
  /** a ping goes out after this long without a message from the server (default 10000) */
  readonly heartbeatIntervalMs?: number
  /** a connection silent this long (or not welcomed this long after it was opened) is dropped and made again (default 30000) */
  readonly heartbeatTimeoutMs?: number
  /** the WebSocket to use (default: the global one, else the `ws` package) */
  readonly WebSocket?: WebSocketConstructor
}

export interface ResolvedOptions {
  readonly url: string
  readonly apiKey: string | undefined
  readonly maxInflightEvents: number
  readonly retryBudgetMs: number
  readonly maxEventsPerFrame: number
  readonly backoff: Required<BackoffOptions>
  readonly heartbeatIntervalMs: number
  readonly heartbeatTimeoutMs: number
  readonly WebSocket: WebSocketConstructor | undefined
}

export const CLIENT_DEFAULTS = {
  maxInflightEvents: 10_000,
  retryBudgetMs: 60_000,
  maxEventsPerFrame: 1000,
  heartbeatIntervalMs: 10_000,
  heartbeatTimeoutMs: 30_000,
} as const

/** Fills in the defaults; a wrong option is a TypeError or RangeError naming it, at once. */
export function resolveOptions(options: ClientOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('createClient: options must be an object with a url')
  const { url, apiKey } = options
  if (typeof url !== 'string' || !/^wss?:\/\//i.test(url))
    throw new TypeError(`createClient: url must be a ws:// or wss:// URL (got ${String(url)})`)
  new URL(url) // throws a TypeError for a malformed one
  if (apiKey !== undefined && (typeof apiKey !== 'string' || apiKey === ''))
    throw new TypeError('createClient: apiKey must be a non-empty string')
  const resolved: ResolvedOptions = {
    url,
    apiKey,
    maxInflightEvents: options.maxInflightEvents ?? CLIENT_DEFAULTS.maxInflightEvents,
    retryBudgetMs: options.retryBudgetMs ?? CLIENT_DEFAULTS.retryBudgetMs,
    maxEventsPerFrame: options.maxEventsPerFrame ?? CLIENT_DEFAULTS.maxEventsPerFrame,
    backoff: {
      initialMs: options.backoff?.initialMs ?? BACKOFF_DEFAULTS.initialMs,
      maxMs: options.backoff?.maxMs ?? BACKOFF_DEFAULTS.maxMs,
    },
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? CLIENT_DEFAULTS.heartbeatIntervalMs,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? CLIENT_DEFAULTS.heartbeatTimeoutMs,
    WebSocket: options.WebSocket,
  }
  const counts = {
    maxInflightEvents: resolved.maxInflightEvents,
    maxEventsPerFrame: resolved.maxEventsPerFrame,
    heartbeatIntervalMs: resolved.heartbeatIntervalMs,
    heartbeatTimeoutMs: resolved.heartbeatTimeoutMs,
    'backoff.initialMs': resolved.backoff.initialMs,
    'backoff.maxMs': resolved.backoff.maxMs,
  }
  for (const [name, value] of Object.entries(counts))
    if (!Number.isSafeInteger(value) || value <= 0)
      throw new RangeError(`createClient: ${name} must be a positive integer (got ${value})`)
  if (!Number.isSafeInteger(resolved.retryBudgetMs) || resolved.retryBudgetMs < 0)
    throw new RangeError(
      `createClient: retryBudgetMs must be an integer ≥ 0 (got ${resolved.retryBudgetMs})`,
    )
  if (resolved.WebSocket !== undefined && typeof resolved.WebSocket !== 'function')
    throw new TypeError('createClient: WebSocket must be a WebSocket constructor')
  return resolved
}
