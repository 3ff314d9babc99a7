import { randomUUID } from 'node:crypto'
import type { MiddlewareHandler } from 'hono'

const ACCEPTABLE = /^[A-Za-z0-9._-]{1,128}$/

/** Echoes a well-formed X-Request-Id, otherwise makes a UUID; on every response and in `c.var.requestId`. */
export function requestId(): MiddlewareHandler {
  return async function requestIdMiddleware(c, next) {
    const sent = c.req.header('x-request-id')
    const id = sent !== undefined && ACCEPTABLE.test(sent) ? sent : randomUUID()
    c.set('requestId', id)
    c.header('X-Request-Id', id)
    await next()
    // An error handler may have built a fresh response: make sure it carries the id too.
    c.res.headers.set('X-Request-Id', id)
  }
}
