import type { Server, ServerOptions, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { rawErrorAnswer, requestIdFrom } from './raw-error-answer.js'

/**
 * Timeouts of the HTTP servers (REST on PORT, and the upgrade requests on WS_PORT) against slow
 * clients. Node's defaults let a client drip its headers for 60 s and its body for 300 s, checked
 * only every 30 s: a few hundred such connections (slowloris) hold sockets and memory for minutes
 * without ever sending a whole request. Past these bounds the request is answered
 * `408 request_timeout` in the error shape (API.md §3) and the connection closed.
 *
 * - headers (HTTP_HEADERS_TIMEOUT_MS): a whole request head in 10 s;
 * - request (HTTP_REQUEST_TIMEOUT_MS): a whole request, body included, in 30 s (5 MiB, the default
 *   MAX_BODY_BYTES, at 1.4 Mbit/s); only the receiving counts: a request that is read and waits for
 *   its events to commit is not cut;
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

export interface SlowClientTimeouts {
  readonly headersTimeout: number
  readonly requestTimeout: number
}

/** The options of `http.createServer` for these bounds (Node refuses a head bound over the request bound). */
export function slowClientServerOptions(
  timeouts: SlowClientTimeouts = SLOW_CLIENT_TIMEOUTS,
): ServerOptions {
  if (timeouts.headersTimeout > timeouts.requestTimeout)
    throw new RangeError('the headers timeout must not exceed the request timeout')
  return {
    headersTimeout: timeouts.headersTimeout,
    requestTimeout: timeouts.requestTimeout,
    connectionsCheckingInterval: SLOW_CLIENT_TIMEOUTS.connectionsCheckingInterval,
  }
}

export const REQUEST_TIMEOUT_MESSAGE =
  'the request did not arrive in time (HTTP_HEADERS_TIMEOUT_MS for its head, HTTP_REQUEST_TIMEOUT_MS for all of it)'

/**
 * Node's other client errors, answered in the error shape (API.md §3) rather than Node's bare status
 * line: a head over 16 KiB, a malformed head (a bad header, Content-Length with Transfer-Encoding,
 * an unknown method), chunk extensions over Node's bound.
 */
const CLIENT_ERRORS: Record<string, readonly [400 | 413, string, string]> = {
  HPE_HEADER_OVERFLOW: [400, 'invalid_request', 'the request head is over 16 KiB'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'payload_too_large', 'the chunk extensions are too large'],
}
const MALFORMED = [400, 'invalid_request', 'the request is not well-formed HTTP/1.1'] as const

type ClientSocket = Duplex & {
  readonly _httpMessage?: (ServerResponse & { readonly _headerSent?: boolean }) | null
}

/**
 * Answers the requests Node cannot hand to the app — one that timed out (`408 request_timeout`), a
 * malformed or oversized head (`400 invalid_request`) — in the error shape, instead of Node's bare
 * status lines: a listener for `clientError` replaces Node's handling of all of them.
 */
export function answerClientErrors(server: Server): void {
  server.on(
    'clientError',
    function clientError(error: Error & { code?: string }, socket: ClientSocket) {
      const response = socket._httpMessage
      // Only between answers: a response already under way cannot be followed by another.
      if (socket.writable && !(response?._headerSent ?? false)) {
        const [status, code, message] =
          error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? ([408, 'request_timeout', REQUEST_TIMEOUT_MESSAGE] as const)
            : (error.code && CLIENT_ERRORS[error.code]) || MALFORMED
        // The head of a request whose body timed out was read: its X-Request-Id is echoed.
        const requestId = requestIdFrom(response?.req.headers['x-request-id'])
        socket.write(rawErrorAnswer(status, code, message, requestId))
      }
      socket.destroy(error)
    },
  )
}
