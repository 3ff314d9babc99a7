import type { Context } from 'hono'

/** Where a browser reaches this server: what the settings analytics.js loads point it back to. */
export interface PublicOrigin {
  /** `https` or `http` */
  readonly protocol: string
  /** host and port, then any path prefix a proxy serves Sluice under, without a trailing slash */
  readonly host: string
}

const HOST = /^[A-Za-z0-9.:[\]-]{1,255}$/
const PROTOCOLS: ReadonlySet<string> = new Set(['http', 'https'])

/**
 * The origin the browser used to reach Sluice. `PUBLIC_URL`, when set, says it outright (a TLS
 * proxy that forwards no headers). Else a proxy's `Forwarded` (RFC 7239) or `X-Forwarded-Proto` /
 * `X-Forwarded-Host` headers say it, else the request's own Host and scheme: behind a TLS proxy
 * the request reaches Sluice as http, and settings that said so would send a page served over
 * https to an http URL its browser blocks as mixed content. Forwarded values are only echoed to
 * the client that sent them, and only when they are a scheme of the two and a bare host[:port].
 */
export function publicOrigin(c: Context, configured: URL | undefined): PublicOrigin {
  if (configured !== undefined)
    return {
      protocol: configured.protocol.slice(0, -1),
      host: `${configured.host}${configured.pathname.replace(/\/+$/, '')}`,
    }
  const url = new URL(c.req.url)
  const forwarded = forwardedPair(c.req.header('forwarded'))
  const proto = (forwarded.proto ?? firstValue(c.req.header('x-forwarded-proto')))?.toLowerCase()
  const host =
    forwarded.host ?? firstValue(c.req.header('x-forwarded-host')) ?? c.req.header('host')
  return {
    protocol: proto !== undefined && PROTOCOLS.has(proto) ? proto : url.protocol.slice(0, -1),
    host: host !== undefined && HOST.test(host) ? host : url.host,
  }
}

/** The first proxy's `proto` and `host` of a `Forwarded` header (`for=…;proto=https;host=x`). */
function forwardedPair(header: string | undefined): { proto?: string; host?: string } {
  const first = firstValue(header)
  if (first === undefined) return {}
  const pair: { proto?: string; host?: string } = {}
  for (const part of first.split(';')) {
    const [name, value] = part.split('=', 2).map((s) => s.trim())
    if (value === undefined) continue
    const unquoted = value.replace(/^"(.*)"$/, '$1')
    if (name?.toLowerCase() === 'proto') pair.proto = unquoted
    else if (name?.toLowerCase() === 'host') pair.host = unquoted
  }
  return pair
}

/** The first of a comma-separated header's values: the proxy nearest the browser wrote it. */
function firstValue(header: string | undefined): string | undefined {
  const first = header?.split(',', 1)[0]?.trim()
  return first === undefined || first === '' ? undefined : first
}
