import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { OpenAPIHono } from '@hono/zod-openapi'
import type { HttpEnv } from '../http-env.js'

/**
 * GET /console: one page (console.html, console.js, console.css in ./assets) and uPlot, all served
 * by Sluice itself, as /docs serves Swagger UI: the console works offline and behind firewalls.
 * The page reads GET /v1/status and subscribes over the WebSocket (API.md §4).
 */

// `npm run build` copies ./assets next to the compiled module; a dist built by tsc alone finds them
// in the package's src (which the package ships) instead.
const ASSETS = [
  fileURLToPath(new URL('./assets/', import.meta.url)),
  fileURLToPath(new URL('../../../src/http/console/assets/', import.meta.url)),
].find((dir) => existsSync(join(dir, 'console.html')))
const UPLOT = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist')

const JS = 'text/javascript; charset=utf-8'
const CSS = 'text/css; charset=utf-8'
// Maps, not object literals: a file named `constructor` or `__proto__` must be a 404.
const OWN_FILES = new Map([
  ['console.js', JS],
  ['console.css', CSS],
])
const UPLOT_FILES = new Map([
  ['uPlot.esm.js', JS],
  ['uPlot.min.css', CSS],
])

export interface ConsoleOptions {
  /** the WebSocket port once listening: the page's policy allows connecting there */
  readonly wsPort: () => number | undefined
}

export function consoleRoutes(app: OpenAPIHono<HttpEnv>, options: ConsoleOptions): void {
  const cache = new Map<string, Promise<Buffer>>()
  const read = (path: string) => {
    let body = cache.get(path)
    if (!body) {
      body = readFile(path)
      // a failed read is not kept: the next request tries again
      body.catch(() => cache.delete(path))
      cache.set(path, body)
    }
    return body
  }

  app.get('/console', async function consolePage(c) {
    if (!ASSETS) throw new Error('the console assets are missing (src/http/console/assets)')
    const html = await read(join(ASSETS, 'console.html'))
    return c.body(new Uint8Array(html), 200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-cache',
      'content-security-policy': policy(new URL(c.req.url).hostname, options.wsPort()),
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    })
  })

  app.get('/console/assets/:file', async function consoleAsset(c) {
    const file = c.req.param('file')
    const type = OWN_FILES.get(file)
    if (type === undefined || !ASSETS) return c.notFound()
    return c.body(new Uint8Array(await read(join(ASSETS, file))), 200, {
      'content-type': type,
      // the page's own code changes with Sluice: revalidated, not kept for a day
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    })
  })

  app.get('/console/assets/uplot/:file', async function uplotAsset(c) {
    const file = c.req.param('file')
    const type = UPLOT_FILES.get(file)
    if (type === undefined) return c.notFound()
    return c.body(new Uint8Array(await read(join(UPLOT, file))), 200, {
      'content-type': type,
      'cache-control': 'public, max-age=86400',
      'x-content-type-options': 'nosniff',
    })
  })
}

/**
 * Scripts, styles and requests from Sluice only, plus its WebSocket port on the host the page was
 * reached by ('self' covers only the page's own port). No inline script or style runs; uPlot sets
 * styles through the CSSOM, which a policy does not restrict.
 */
function policy(hostname: string, wsPort: number | undefined): string {
  const host = hostname.includes(':') && !hostname.startsWith('[') ? `[${hostname}]` : hostname
  const sockets =
    wsPort === undefined ? 'ws: wss:' : `ws://${host}:${wsPort} wss://${host}:${wsPort}`
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self' ${sockets}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
}
