import type { MiddlewareHandler } from 'hono'
import { requestIdFrom } from '../wire/raw-error-answer.js'

/** Echoes a well-formed X-Request-Id, otherwise makes a UUID; on every response and in `c.var.requestId`. */
export function requestId(): MiddlewareHandler {
  return async function requestIdMiddleware(c, next) {
    const id = requestIdFrom(c.req.header('x-request-id'))
    c.set('requestId', id)
    c.header('X-Request-Id', id)
    await next()
    // An error handler may have built a fresh response: make sure it carries the id too.
    c.res.headers.set('X-Request-Id', id)
  }
}
