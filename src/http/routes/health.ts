import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import type { HttpEnv } from '../http-env.js'
import { HealthSchema } from '../schemas.js'

export const healthRoute = createRoute({
  method: 'get',
  path: '/health',
  tags: ['operations'],
  summary: 'Liveness',
  description: 'The process is up and answering. Says nothing of Redis or ClickHouse (that is /ready).',
  responses: { 200: { description: 'alive', content: { 'application/json': { schema: HealthSchema } } } },
})

export function healthRoutes(app: OpenAPIHono<HttpEnv>, startedAt: number, now: () => number = Date.now): void {
  app.openapi(healthRoute, function health(c) {
    return c.json({ status: 'ok' as const, requestId: c.get('requestId'), uptimeSeconds: Math.floor((now() - startedAt) / 1000) }, 200)
  })
}
