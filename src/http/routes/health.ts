import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import type { HttpEnv } from '../http-env.js'
import { jsonResponse } from '../openapi-responses.js'
import { HealthSchema } from '../schemas.js'

export const healthRoute = createRoute({
  method: 'get',
  path: '/health',
  tags: ['operations'],
  summary: 'Liveness',
  description:
    'The process is up and answering. Says nothing of Redis or ClickHouse (that is /ready).',
  responses: {
    200: jsonResponse(HealthSchema, 'Alive', {
      alive: {
        value: {
          status: 'ok',
          requestId: '0193a3c2-7f00-7000-8000-000000000000',
          uptimeSeconds: 42,
        },
      },
    }),
  },
})

export function healthRoutes(
  app: OpenAPIHono<HttpEnv>,
  startedAt: number,
  now: () => number = Date.now,
): void {
  app.openapi(healthRoute, function health(c) {
    return c.json(
      {
        status: 'ok' as const,
        requestId: c.get('requestId'),
        uptimeSeconds: Math.floor((now() - startedAt) / 1000),
      },
      200,
    )
  })
}
