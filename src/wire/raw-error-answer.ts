import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/

/** The X-Request-Id a client sent when it is one (API.md §3), else a new UUID. */
export function requestIdFrom(sent: string | string[] | undefined): string {
  const single = Array.isArray(sent) ? sent[0] : sent
  return single !== undefined && REQUEST_ID.test(single) ? single : randomUUID()
}

/**
 * A whole HTTP answer in the error shape (API.md §3), written on a socket the Hono app never saw:
 * a request Node could not read, a WebSocket upgrade refused. It closes the connection.
 */
export function rawErrorAnswer(
  status: number,
  code: string,
  message: string,
  requestId: string,
  headers: Record<string, string> = {},
): string {
  const body = JSON.stringify({ error: { code, message, requestId } })
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    'Connection: close',
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    `X-Request-Id: ${requestId}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ]
  return `${head.join('\r\n')}\r\n\r\n${body}`
}
