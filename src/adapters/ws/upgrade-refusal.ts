import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { presentedKey } from '../../wire/api-keys.js'
import { rawErrorAnswer, requestIdFrom } from '../../wire/raw-error-answer.js'

/**
 * The API key an upgrade presents: `Authorization: Bearer <key>` or `X-API-Key: <key>` like REST,
 * or `?api_key=<key>` in the URL, because a browser's WebSocket cannot set headers (API.md §4).
 */
export function upgradeKey(request: IncomingMessage): string | undefined {
  const fromHeader = presentedKey((name) => single(request.headers[name]))
  if (fromHeader !== undefined && fromHeader !== '') return fromHeader
  const query = (request.url ?? '').split('?', 2)[1]
  return query === undefined ? undefined : (new URLSearchParams(query).get('api_key') ?? undefined)
}

/** The request's own X-Request-Id when it is one (API.md §3), else a new UUID. */
export function requestIdOf(request: IncomingMessage): string {
  return requestIdFrom(request.headers['x-request-id'])
}

/**
 * Answers an upgrade with an HTTP error instead of a connection, in the error shape of the REST
 * surface (API.md §3), and ends the socket once the answer is written.
 */
export function refuseUpgrade(
  request: IncomingMessage,
  socket: Duplex,
  status: 400 | 401 | 403 | 405 | 426 | 503,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  // A peer that resets while we answer must not crash the process: there is nobody left to tell.
  socket.on('error', () => socket.destroy())
  socket.once('finish', () => socket.destroy())
  socket.end(rawErrorAnswer(status, code, message, requestIdOf(request), headers))
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}
