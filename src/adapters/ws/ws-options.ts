import type { PerMessageDeflateOptions } from 'ws'
import { SLOW_CLIENT_TIMEOUTS } from '../../wire/slow-client-timeouts.js'

/**
 * The WebSocket gateway's options (API.md §4), with the contract's defaults. The composition root
 * maps the environment onto them; the suggested variable is named next to each option.
 */
export interface WsGatewayOptions {
  /** WS_PORT (default 8080); 0 takes any free port */
  readonly port?: number
  /** HOST; default: every interface */
  readonly host?: string
  /** MAX_WS_CONNECTIONS (default 10000): upgrades over it are refused with 503 */
  readonly maxConnections?: number
  /** WS_MAX_FRAME_BYTES (default 1 MiB): a bigger frame closes the connection with 1009 */
  readonly maxFrameBytes?: number
  /** WS_MAX_EVENTS_PER_FRAME (default 1000): more is a `too_many_events` error frame; told in the welcome */
  readonly maxEventsPerFrame?: number
  /**
   * WS_MAX_INFLIGHT_PER_CONNECTION (default 10000): events one connection may have in the pipeline at
   * once, and replies it may have waiting for their turn; past either its socket is not read
   */
  readonly maxInflightPerConnection?: number
  /** WS_PING_INTERVAL_MS (default 30000): a peer silent for two intervals is terminated */
  readonly pingIntervalMs?: number
  /** WS_PER_MESSAGE_DEFLATE (default false) */
  readonly perMessageDeflate?: boolean
  /** API_KEYS: when set, the upgrade needs one (Authorization: Bearer, X-API-Key, or ?api_key=) */
  readonly apiKeys?: readonly string[]
  /** CORS_ORIGINS: the web origins whose pages may connect (`*`: any); unset: only Sluice's own HTTP origin */
  readonly allowedOrigins?: readonly string[]
  /** WS_SUBSCRIBER_MAX_BUFFERED_BYTES (default 4 MiB): a subscriber with more unsent output is dropped from its subscription */
  readonly subscriberMaxBufferedBytes?: number
  /**
   * WS_SUBSCRIBERS_MAX_BUFFERED_BYTES (default 256 MiB): unsent output of all subscribers together;
   * past it the slowest (largest backlog) are dropped from their subscriptions until it is under again
   */
  readonly subscribersMaxBufferedBytes?: number
  /** no variable (default 1 MiB): a connection with more unsent output is not read until it drains */
  readonly sendHighWaterBytes?: number
  /**
   * WS_MAX_SUBSCRIPTION_PATTERNS (default 100): patterns in one subscribe frame, and so per connection
   * (a subscribe replaces the connection's subscription)
   */
  readonly maxSubscriptionTypes?: number
  /**
   * 80% of SHUTDOWN_TIMEOUT_MS, at least 1 s (default 10000): how long a closing connection may take
   * to settle its frames, send their acks and finish the close handshake before it is terminated;
   * also bounds `close()`.
   */
  readonly closeTimeoutMs?: number
  /** HTTP_HEADERS_TIMEOUT_MS (default 10000): an upgrade request's head must arrive within it, else 408 */
  readonly headersTimeoutMs?: number
  /** HTTP_REQUEST_TIMEOUT_MS (default 30000): a whole upgrade request must arrive within it, else 408 */
  readonly requestTimeoutMs?: number
}

/*
 * What WS_PER_MESSAGE_DEFLATE=true negotiates. ws's defaults cost ~215 KB per idle connection
 * (1,000 connections, RSS after GC, test/adapters/ws/deflate-memory.test.ts): without no-context-takeover
 * every message is compressed, the welcome included, so each connection builds a deflate context
 * (32 KiB window, 64 KiB hash) for it and keeps it. With no context takeover each way, a message
 * under `threshold` is sent as is, so an idle connection holds no zlib context (5 to 10 KB measured,
 * ~2 KB without deflate); a message over it is compressed on its own, in a 1 KiB window: JSON
 * events and acks compress within 10% of what a 32 KiB window gives.
 *
 * ws resets a context after each message rather than freeing it, so a connection that has sent or
 * received a message over the threshold keeps its contexts until it closes: ~105 KB per connection
 * after one 5 KB frame and its 3 KB ack (~180 KB with ws's defaults), most of it the deflate
 * context, whose hash table the bundled zlib keeps at 64 KiB whatever memLevel says. Small chunks
 * keep each zlib stream's output buffer at 1 KiB instead of 16 KiB.
 *
 * Not set, on purpose: clientMaxWindowBits, because ws then refuses (400) every client whose offer
 * does not carry client_max_window_bits, as some browsers' do not. serverMaxWindowBits 10 refuses
 * only a client that asks for a window under 1 KiB (server_max_window_bits=8 or 9). concurrencyLimit
 * is ws's process-wide bound on zlib jobs at once (its default, written out).
 */
export const PER_MESSAGE_DEFLATE: PerMessageDeflateOptions = {
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
  serverMaxWindowBits: 10,
  zlibDeflateOptions: { level: 1, memLevel: 1, chunkSize: 1024 },
  zlibInflateOptions: { chunkSize: 1024 },
  threshold: 1024,
  concurrencyLimit: 10,
}

export type ResolvedWsOptions = Required<
  Omit<WsGatewayOptions, 'host' | 'apiKeys' | 'allowedOrigins'>
> &
  Pick<WsGatewayOptions, 'host' | 'apiKeys' | 'allowedOrigins'>

export const WS_DEFAULTS = {
  port: 8080,
  maxConnections: 10_000,
  maxFrameBytes: 1024 * 1024,
  maxEventsPerFrame: 1000,
  maxInflightPerConnection: 10_000,
  pingIntervalMs: 30_000,
  perMessageDeflate: false,
  subscriberMaxBufferedBytes: 4 * 1024 * 1024,
  subscribersMaxBufferedBytes: 256 * 1024 * 1024,
  sendHighWaterBytes: 1024 * 1024,
  maxSubscriptionTypes: 100,
  closeTimeoutMs: 10_000,
  headersTimeoutMs: SLOW_CLIENT_TIMEOUTS.headersTimeout,
  requestTimeoutMs: SLOW_CLIENT_TIMEOUTS.requestTimeout,
} as const satisfies Omit<ResolvedWsOptions, 'host' | 'apiKeys' | 'allowedOrigins'>

/** Fills in the defaults and refuses combinations that could never work (a RangeError naming the option). */
export function resolveWsOptions(options: WsGatewayOptions): ResolvedWsOptions {
  const resolved: ResolvedWsOptions = { ...WS_DEFAULTS, ...withoutUndefined(options) }
  const positive = [
    'maxConnections',
    'maxFrameBytes',
    'maxEventsPerFrame',
    'maxInflightPerConnection',
    'pingIntervalMs',
    'subscriberMaxBufferedBytes',
    'subscribersMaxBufferedBytes',
    'sendHighWaterBytes',
    'maxSubscriptionTypes',
    'closeTimeoutMs',
    'headersTimeoutMs',
    'requestTimeoutMs',
  ] as const
  for (const name of positive) {
    if (!Number.isInteger(resolved[name]) || resolved[name] <= 0)
      throw new RangeError(`ws option ${name} must be a positive integer (got ${resolved[name]})`)
  }
  if (!Number.isInteger(resolved.port) || resolved.port < 0 || resolved.port > 65_535)
    throw new RangeError(`ws option port must be 0..65535 (got ${resolved.port})`)
  // A frame is submitted whole; one that could never fit under the connection's cap would wait forever.
  if (resolved.maxEventsPerFrame > resolved.maxInflightPerConnection) {
    throw new RangeError(
      `ws option maxEventsPerFrame (${resolved.maxEventsPerFrame}) must not exceed maxInflightPerConnection (${resolved.maxInflightPerConnection})`,
    )
  }
  return resolved
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
