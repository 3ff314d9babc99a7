/**
 * The socket port: the part of the WHATWG `WebSocket` the client uses. Browsers' global
 * `WebSocket`, Node 22's, and `ws` (Node 20) all have it, and so does a test's fake.
 */
export interface WebSocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  /** `ws` only: drop the TCP connection without a close handshake (a stalled peer never answers one) */
  terminate?(): void
  onopen: ((event: unknown) => void) | null
  onmessage: ((event: { readonly data: unknown }) => void) | null
  onclose: ((event: { readonly code: number; readonly reason: string }) => void) | null
  onerror: ((event: { readonly message?: string; readonly error?: unknown }) => void) | null
}

export type WebSocketConstructor = new (url: string) => WebSocketLike

/** The module name, in a variable: bundlers for the browser then leave the import alone. */
const WS_MODULE = 'ws'

/**
 * The constructor to use: the caller's, else the global one (browsers, Node 22+), else `ws`,
 * loaded only when needed (Node 20 has no global WebSocket), so a browser build never needs it.
 */
export async function resolveWebSocket(
  given?: WebSocketConstructor,
): Promise<WebSocketConstructor> {
  if (given !== undefined) return given
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (global !== undefined) return global
  try {
    const ws = (await import(/* @vite-ignore */ /* webpackIgnore: true */ WS_MODULE)) as {
      WebSocket?: WebSocketConstructor
      default?: WebSocketConstructor
    }
    const found = ws.WebSocket ?? ws.default
    if (found !== undefined) return found
  } catch {
    // explained below
  }
  throw new Error(
    'sluice/client: no WebSocket here: install the `ws` package (Node 20), or pass `WebSocket` to createClient',
  )
}

/** `url` with the API key as `?api_key=` (API.md §4): browsers cannot set headers on an upgrade. */
export function withApiKey(url: string, apiKey: string | undefined): string {
  if (apiKey === undefined) return url
  const withKey = new URL(url)
  withKey.searchParams.set('api_key', apiKey)
  return withKey.href
}

/** A socket given up on: its late events go nowhere (and `ws` must never emit an unheard 'error'). */
export function abandon(socket: WebSocketLike, code: number, reason: string): void {
  socket.onopen = null
  socket.onmessage = null
  socket.onclose = null
  socket.onerror = ignore
  try {
    if (socket.terminate !== undefined) socket.terminate()
    else socket.close(code, reason)
  } catch {
    // already closed, or closed while connecting: either way it is gone
  }
}

function ignore(): void {}
