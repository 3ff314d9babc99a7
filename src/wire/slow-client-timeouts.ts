/**
 * Timeouts of the HTTP servers (REST on PORT, and the upgrade requests on WS_PORT) against slow
 * clients. Node's defaults let a client drip its headers for 60 s and its body for 300 s, checked
 * only every 30 s: a few hundred such connections (slowloris) hold sockets and memory for minutes
 * without ever sending a whole request. Past these bounds Node answers `408` and closes.
 *
 * - headers: a whole request head in 10 s;
 * - request: a whole request, body included, in 30 s (5 MiB, the default MAX_BODY_BYTES, at 1.4 Mbit/s);
 *   only the receiving counts: a request that is read and waits for its events to commit is not cut;
 * - checked every second.
 *
 * A WebSocket connection is no longer a request once upgraded: these do not apply to it (its
 * heartbeat does, WS_PING_INTERVAL_MS).
 */
export const SLOW_CLIENT_TIMEOUTS = {
  headersTimeout: 10_000,
  requestTimeout: 30_000,
  connectionsCheckingInterval: 1_000,
} as const
