import type { IncomingMessage } from 'node:http'

/**
 * Which web pages may open a WebSocket to Sluice (API.md §4). A browser sends `Origin` with every
 * upgrade and lets any page connect anywhere; without this check a page a user merely visits could
 * subscribe to `*` on a Sluice without keys and read every event. Clients that send no `Origin`
 * (servers, SDKs, the CLI) are not browsers and are unaffected.
 *
 * - `CORS_ORIGINS` set: only those origins (`*`: any);
 * - unset: only Sluice's own HTTP origin — the same host name as the upgrade's `Host`, on the REST
 *   port (`ownHttpPort`), where /docs and the console are served.
 */
export function createOriginCheck(
  allowed: readonly string[] | undefined,
  ownHttpPort: () => number | undefined,
): (request: IncomingMessage) => boolean {
  const any = allowed?.includes('*') ?? false
  const listed = new Set((allowed ?? []).map(normalizeOrigin))
  return function originAllowed(request) {
    const origin = request.headers.origin
    if (origin === undefined || any) return true
    if (allowed !== undefined) return listed.has(normalizeOrigin(origin))
    return isOwnOrigin(origin, request.headers.host, ownHttpPort())
  }
}

function isOwnOrigin(origin: string, host: string | undefined, port: number | undefined): boolean {
  if (
    host === undefined ||
    port === undefined ||
    !URL.canParse(origin) ||
    !URL.canParse(`http://${host}`)
  )
    return false
  const page = new URL(origin)
  if (page.protocol !== 'http:' && page.protocol !== 'https:') return false
  const pagePort = page.port === '' ? (page.protocol === 'https:' ? 443 : 80) : Number(page.port)
  return page.hostname === new URL(`http://${host}`).hostname && pagePort === port
}

/** Origins compare as browsers write them: scheme and host in lower case, no trailing slash. */
function normalizeOrigin(origin: string): string {
  return origin.trim().replace(/\/+$/, '').toLowerCase()
}
