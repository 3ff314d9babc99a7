import http from 'node:http'
import https from 'node:https'
import { Observable } from 'rxjs'
import { toWire } from '../../streams/event.js'
import type { Delivery, DeliveryBatch } from '../../streams/routing/ports.js'
import type { Route } from '../../streams/routing/route.js'
import { classifyNetworkError, classifyResponse, ERROR_BODY_CHARS } from './http-delivery-policy.js'

export interface HttpDeliveryOptions {
  /** sockets per destination (host:port), for all routes to it (default 256); each route's concurrency caps its own share */
  readonly maxSockets?: number
  /**
   * An idle pooled socket is closed after this long (default 4000 ms): shorter than the usual server
   * keep-alive timeout (Node's is 5 s), so that we do not reuse a socket the server is closing,
   * which fails the next attempt with ECONNRESET.
   */
  readonly idleSocketMs?: number
  readonly userAgent?: string
}

export interface HttpDelivery extends Delivery {
  /** Closes the pooled sockets. */
  close(): void
}

/**
 * The delivery port over HTTP (API.md §8): one POST per batch, body `{"events":[…]}` with the events
 * as accepted, over a keep-alive pool per protocol. `node:http` rather than fetch: Node's fetch
 * (undici) cannot be given a pool without the `undici` package, which Sluice does not depend on.
 * The route's timeout is applied by the router on its scheduler; the socket timeout here is a
 * second line for a request the router has stopped watching.
 */
export function createHttpDelivery(options: HttpDeliveryOptions = {}): HttpDelivery {
  const { maxSockets = 256, idleSocketMs = 4000, userAgent = 'sluice' } = options
  const agentOptions = {
    keepAlive: true,
    maxSockets,
    timeout: idleSocketMs,
    scheduling: 'lifo' as const,
  }
  const agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) }

  function send(route: Route, batch: DeliveryBatch) {
    return new Observable<void>((subscriber) => {
      const url = new URL(route.url)
      const secure = url.protocol === 'https:'
      const body = JSON.stringify({ events: batch.events.map(toWire) })
      let settled = false
      const request = (secure ? https : http).request(url, {
        method: 'POST',
        agent: secure ? agents.https : agents.http,
        timeout: route.timeoutMs,
        headers: {
          'user-agent': userAgent,
          ...route.headers,
          // Set last: the routes file refuses these names, and they win whatever it holds.
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'idempotency-key': batch.id,
          'x-sluice-route': route.name,
        },
      })
      request.on('response', (response) => {
        // The body must be read to the end for the socket to go back to the pool; keep only its start.
        let text = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => {
          if (text.length < ERROR_BODY_CHARS) text += chunk
        })
        response.on('end', () => {
          settled = true
          const error = classifyResponse(
            response.statusCode ?? 0,
            header(response.headers['retry-after']),
            text,
          )
          if (error) subscriber.error(error)
          else subscriber.complete()
        })
        response.on('error', (error) => fail(error))
      })
      request.on('timeout', () =>
        request.destroy(
          Object.assign(new Error(`socket timed out after ${route.timeoutMs} ms`), {
            code: 'ETIMEDOUT',
          }),
        ),
      )
      request.on('error', (error) => fail(error))
      request.end(body)

      function fail(error: unknown) {
        if (settled) return
        settled = true
        subscriber.error(classifyNetworkError(error))
      }
      // Unsubscribed before the answer (the router's timeout, shutdown): abort, the socket is not reused.
      return () => {
        if (!settled) {
          settled = true
          request.destroy()
        }
      }
    })
  }

  return {
    send,
    close() {
      agents.http.destroy()
      agents.https.destroy()
    },
  }
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}
