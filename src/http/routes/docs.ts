import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { OpenAPIHono } from '@hono/zod-openapi'
import { swaggerUI } from '@hono/swagger-ui'
import type { HttpEnv } from '../http-env.js'

const ASSETS = '/docs/assets'
// Served from the swagger-ui-dist package, not a CDN: /docs works offline and behind firewalls.
// A Map, not an object literal: a file named `constructor` or `__proto__` must be a 404, not a prototype's member.
const FILES = new Map([
  ['swagger-ui.css', 'text/css; charset=utf-8'],
  ['swagger-ui-bundle.js', 'text/javascript; charset=utf-8'],
])

export interface DocsOptions {
  readonly title: string
  readonly version: string
  readonly description: string
  /**
   * DOCS_PERSIST_AUTHORIZATION: Swagger UI keeps an API key typed into "Authorize" in the browser's
   * localStorage, where any script of the origin can read it, and across sessions. Off by default.
   */
  readonly persistAuthorization?: boolean
}

/** GET /openapi.json (generated from the route definitions and the zod schemas) and GET /docs (Swagger UI). */
export function docsRoutes(app: OpenAPIHono<HttpEnv>, options: DocsOptions): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key from API_KEYS (only when it is set)',
  })
  app.openAPIRegistry.registerComponent('securitySchemes', 'apiKeyHeader', {
    type: 'apiKey',
    in: 'header',
    name: 'X-API-Key',
    description: 'An API key from API_KEYS (only when it is set)',
  })
  app.openAPIRegistry.registerComponent('securitySchemes', 'basicAuth', {
    type: 'http',
    scheme: 'basic',
    description:
      'Analytics SDKs: an API key from API_KEYS as the user name, no password (only when API_KEYS is set)',
  })
  app.openAPIRegistry.registerComponent('securitySchemes', 'writeKeyHeader', {
    type: 'apiKey',
    in: 'header',
    name: 'X-Write-Key',
    description: 'Analytics SDKs: an API key from API_KEYS (only when it is set)',
  })
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: options.title, version: options.version, description: options.description },
    tags: [
      { name: 'events', description: 'Send events and read them back' },
      { name: 'routing', description: 'Dead letters of the downstream routes' },
      { name: 'operations', description: 'Liveness, readiness, metrics' },
      { name: 'status', description: 'Live status, as the console at /console shows it' },
      {
        name: 'compatibility',
        description:
          'Drop-in endpoints for Segment, RudderStack and PostHog SDKs: point their host here and change nothing else',
      },
    ],
  })

  let policy: string | undefined
  app.use('/docs', async function docsHeaders(c, next) {
    await next()
    if (c.res.status !== 200) return
    // The page's one inline script (Swagger UI's start-up) is allowed by its hash; nothing else inline
    // runs, nothing loads from elsewhere, and no other site may frame the page (clickjacking "Try it out").
    policy ??= contentSecurityPolicy(await c.res.clone().text())
    c.header('Content-Security-Policy', policy)
    c.header('X-Frame-Options', 'DENY')
    c.header('X-Content-Type-Options', 'nosniff')
    c.header('Referrer-Policy', 'no-referrer')
  })
  app.get(
    '/docs',
    swaggerUI({
      url: '/openapi.json',
      title: 'Sluice API',
      baseUrl: ASSETS,
      persistAuthorization: options.persistAuthorization ?? false,
      displayRequestDuration: true,
    }),
  )

  // Browsers ask for it on every visit to /docs; an empty answer keeps their consoles clean.
  app.get('/favicon.ico', (c) => c.body(null, 204))

  const root = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))
  const cache = new Map<string, Promise<Buffer>>()
  app.get(`${ASSETS}/swagger-ui-dist/:file`, async function swaggerAsset(c) {
    const file = c.req.param('file')
    const type = FILES.get(file)
    if (type === undefined) return c.notFound()
    let body = cache.get(file)
    if (!body) cache.set(file, (body = readFile(join(root, file))))
    return c.body(new Uint8Array(await body), 200, {
      'content-type': type,
      'cache-control': 'public, max-age=86400',
    })
  })
}

/** The page's policy: its inline scripts by their SHA-256, everything else from Sluice itself. */
function contentSecurityPolicy(html: string): string {
  const hashes = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map(
    (m) => `'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'`,
  )
  return [
    "default-src 'none'",
    `script-src 'self' ${hashes.join(' ')}`,
    // Swagger UI sets style attributes from script.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ')
}
