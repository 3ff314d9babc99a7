import { once } from 'node:events'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { from, lastValueFrom, type ObservableInput } from 'rxjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHttpDelivery } from '../../../src/adapters/http-delivery/http-delivery.js'
import { parseRetryAfter } from '../../../src/adapters/http-delivery/http-delivery-policy.js'
import { DeliveryError } from '../../../src/streams/routing/delivery-error.js'
import { route } from '../../../src/streams/routing/route.js'
import { event } from '../../streams/routing/fakes.js'

type Handler = (request: IncomingMessage, body: string, response: ServerResponse) => void
let handler: Handler = (_request, _body, response) => response.end()
const connections: number[] = []
const server = http.createServer((request, response) => {
  let body = ''
  request.setEncoding('utf8')
  request.on('data', (chunk: string) => (body += chunk))
  request.on('end', () => handler(request, body, response))
})
server.on('connection', (socket) => connections.push(socket.remotePort ?? 0))
let url: string
const delivery = createHttpDelivery()

beforeAll(async () => {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
})
afterAll(async () => {
  delivery.close()
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

const send = (headers: Record<string, string> = {}, target = url) =>
  lastValueFrom(
    from(
      delivery.send(
        route({ name: 'analytics', match: ['*'], url: target, headers, timeoutMs: 2000 }),
        { id: 'batch-1', events: [event('a'), event('b')] },
      ),
    ),
    { defaultValue: 'delivered' },
  )
const failure = async (answer: Handler) => {
  handler = answer
  const error = await send().then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(DeliveryError)
  const { retriable, retryAfterMs, status, message } = error as DeliveryError
  return { retriable, retryAfterMs, status, message }
}

describe('http delivery', () => {
  it('posts the batch as {"events": […]}, the events as accepted, with the headers of API.md §8 and the route’s own', async () => {
    let seen: { headers: IncomingMessage['headers']; body: unknown; method?: string } | undefined
    handler = (request, body, response) => {
      seen = { headers: request.headers, body: JSON.parse(body), method: request.method }
      response.writeHead(202).end('{"ok":true}')
    }
    expect(await send({ authorization: 'Bearer t0k3n' })).toBe('delivered')
    expect(seen!.method).toBe('POST')
    expect(seen!.headers).toMatchObject({
      'content-type': 'application/json',
      'idempotency-key': 'batch-1',
      'x-sluice-route': 'analytics',
      authorization: 'Bearer t0k3n',
    })
    expect(seen!.body).toEqual({
      events: ['a', 'b'].map((id) => ({
        id,
        type: 'page_view',
        timestamp: '2025-11-26T10:00:00.123Z',
        receivedAt: '2025-11-26T10:00:00.200Z',
        transport: 'rest',
      })),
    })
  })

  it('keeps the connection alive from one batch to the next', async () => {
    handler = (_request, _body, response) => response.writeHead(204).end()
    const before = connections.length
    for (let i = 0; i < 5; i++) await send()
    expect(connections.length - before).toBeLessThanOrEqual(1)
  })

  it('retries 5xx, 408 and 429, with the Retry-After the destination sent, in seconds or as a date', async () => {
    expect(await failure((_q, _b, r) => r.writeHead(500).end('database\n is down'))).toEqual({
      retriable: true,
      retryAfterMs: undefined,
      status: 500,
      message: 'HTTP 500: database is down',
    })
    expect(
      await failure((_q, _b, r) => r.writeHead(503, { 'retry-after': '7' }).end()),
    ).toMatchObject({ retriable: true, retryAfterMs: 7000, status: 503 })
    const date = new Date(Date.now() + 30_000).toUTCString()
    const limited = await failure((_q, _b, r) => r.writeHead(429, { 'retry-after': date }).end())
    expect(limited.retriable).toBe(true)
    expect(limited.retryAfterMs).toBeGreaterThan(27_000)
    expect(limited.retryAfterMs).toBeLessThanOrEqual(30_000)
    expect(await failure((_q, _b, r) => r.writeHead(408).end())).toMatchObject({
      retriable: true,
      status: 408,
    })
  })

  it('does not retry other 4xx, nor a redirect', async () => {
    expect(await failure((_q, _b, r) => r.writeHead(400).end('{"error":"bad event"}'))).toEqual({
      retriable: false,
      retryAfterMs: undefined,
      status: 400,
      message: 'HTTP 400: {"error":"bad event"}',
    })
    expect(await failure((_q, _b, r) => r.writeHead(401).end())).toMatchObject({
      retriable: false,
      status: 401,
    })
    expect(
      await failure((_q, _b, r) => r.writeHead(301, { location: '/elsewhere' }).end()),
    ).toMatchObject({ retriable: false, status: 301 })
  })

  it('retries a request that got no answer', async () => {
    const closed = http.createServer()
    closed.listen(0, '127.0.0.1')
    await once(closed, 'listening')
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const error = (await send({}, `http://127.0.0.1:${port}/`).catch(
      (e: unknown) => e,
    )) as DeliveryError
    expect(error.retriable).toBe(true)
    expect(error.message).toMatch(/ECONNREFUSED/)
    const reset = await failure((request) => request.socket.destroy())
    expect(reset.retriable).toBe(true)
  })

  it('aborts the request when unsubscribed: its socket closes though the destination never answers', async () => {
    // The route's timeout (which is also the socket's) is far past the test's own: if unsubscribing
    // did not abort, nothing would close the socket and the test would time out.
    let arrived!: () => void
    const received = new Promise<void>((resolve) => (arrived = resolve))
    let closed!: () => void
    const gone = new Promise<void>((resolve) => (closed = resolve))
    handler = (request) => {
      request.socket.once('close', closed)
      arrived()
    }
    const sending = from<ObservableInput<unknown>>(
      delivery.send(route({ name: 'r', match: ['*'], url, timeoutMs: 3_600_000 }), {
        id: 'x',
        events: [event('a')],
      }),
    )
    const subscription = sending.subscribe({ error: () => {} })
    await received
    subscription.unsubscribe()
    await gone
  })

  it('reads Retry-After as seconds or an HTTP-date, and ignores what it cannot read', () => {
    const now = Date.parse('2026-11-26T10:00:00Z')
    expect(parseRetryAfter('120', now)).toBe(120_000)
    expect(parseRetryAfter('Thu, 26 Nov 2026 10:00:05 GMT', now)).toBe(5000)
    expect(parseRetryAfter('Thu, 26 Nov 2026 09:00:00 GMT', now)).toBe(0)
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
  })
})
