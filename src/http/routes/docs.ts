import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { OpenAPIHono } from '@hono/zod-openapi'
import { swaggerUI } from '@hono/swagger-ui'
import type { HttpEnv } from '../http-env.js'

const ASSETS = '/docs/assets'
// Served from the swagger-ui-dist package, not a CDN: /docs works offline and behind firewalls.
const FILES: Record<string, string> = { 'swagger-ui.css': 'text/css; charset=utf-8', 'swagger-ui-bundle.js': 'text/javascript; charset=utf-8' }

export interface DocsOptions {
  readonly title: string
  readonly version: string
  readonly description: string
}

/** GET /openapi.json (generated from the route definitions and the zod schemas) and GET /docs (Swagger UI). */
export function docsRoutes(app: OpenAPIHono<HttpEnv>, options: DocsOptions): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', description: 'An API key from API_KEYS (only when it is set)' })
  app.openAPIRegistry.registerComponent('securitySchemes', 'apiKeyHeader', { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key from API_KEYS (only when it is set)' })
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: options.title, version: options.version, description: options.description },
    tags: [
      { name: 'events', description: 'Send events and read them back' },
      { name: 'routing', description: 'Dead letters of the downstream routes' },
      { name: 'operations', description: 'Liveness, readiness, metrics' },
    ],
  })

  app.get('/docs', swaggerUI({ url: '/openapi.json', title: 'Sluice API', baseUrl: ASSETS, persistAuthorization: true, displayRequestDuration: true }))

  // Browsers ask for it on every visit to /docs; an empty answer keeps their consoles clean.
  app.get('/favicon.ico', (c) => c.body(null, 204))

  const root = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))
  const cache = new Map<string, Promise<Buffer>>()
  app.get(`${ASSETS}/swagger-ui-dist/:file`, async function swaggerAsset(c) {
    const file = c.req.param('file')
    const type = FILES[file]
    if (!type) return c.notFound()
    let body = cache.get(file)
    if (!body) cache.set(file, (body = readFile(join(root, file))))
    return c.body(new Uint8Array(await body), 200, { 'content-type': type, 'cache-control': 'public, max-age=86400' })
  })
}
