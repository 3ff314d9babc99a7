import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { MiddlewareHandler } from 'hono'

/**
 * What a lingering close reads at most before it resets the connection. Enough for a client that
 * writes its whole body before it reads (fetch does) to finish a body a few times MAX_BODY_BYTES and
 * read its 413: cut at 256 KiB, fetch of a 6 MiB body failed with EPIPE instead. A client still
 * sending after this gets a reset: before the count was kept, one was read at over 1 GB a second.
 */
export const LINGER_MAX_BYTES = 16 * 1024 * 1024
export const LINGER_MAX_MS = 1000
/** How often a lingering read's bytes are counted: at 1 GB/s, ~5 MB between two counts. */
const LINGER_CHECK_MS = 5

/**
 * Closes a connection whose request was answered before its body was read (API.md §3: 401, 413,
 * 415, …), instead of reading the rest of the body to keep the connection alive — which is what
 * Node does by default, so a refused 200 MiB upload cost 200 MiB of reading.
 *
 * The answer says `Connection: close`. Once it is written, the rest of the body is read for a short
 * bounded time (LINGER_MAX_BYTES or LINGER_MAX_MS, whichever comes first) before the socket is
 * destroyed: a client still sending would otherwise get a TCP reset, which can discard the answer
 * before it reads it.
 *
 * Only where the request came through @hono/node-server (its bindings carry Node's request); a
 * request made with `app.request(…)` has no connection to close.
 */
export function closeAfterUnreadBody(): MiddlewareHandler {
  return async function unreadBody(c, next) {
    await next()
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming
    if (incoming === undefined || incoming.complete) return
    c.header('Connection', 'close')
    lingerBeforeClose(incoming)
  }
}

/**
 * Node's server, once the answer is written to a connection marked close, dumps what is left of the
 * request and calls `socket.destroySoon()`, which ends the socket as soon as the answer is flushed.
 * This socket's own `destroySoon` ends it too, then reads a bounded amount before destroying it.
 */
function lingerBeforeClose(incoming: IncomingMessage): void {
  const socket = incoming.socket as Socket & { destroySoon?: () => void }
  socket.destroySoon = function destroyAfterLingering() {
    socket.end()
    const timer = setTimeout(() => socket.destroy(), LINGER_MAX_MS)
    timer.unref()
    // The HTTP parser reads the socket itself, and once Node has dumped the request it hands the
    // request nothing: neither the request nor the socket emits what is read. The socket's count
    // of bytes read still grows, so it is what is watched. Loopback delivers over a GB a second.
    const from = socket.bytesRead
    const watch = setInterval(() => {
      if (socket.bytesRead - from > LINGER_MAX_BYTES) socket.destroy()
    }, LINGER_CHECK_MS)
    watch.unref()
    socket.once('close', () => {
      clearTimeout(timer)
      clearInterval(watch)
    })
    incoming.once('end', () => socket.destroy())
    incoming.resume()
  }
}
