import { OpenAPIHono } from '@hono/zod-openapi'
import type { Logger } from 'pino'
import type { Pipeline } from '../streams/pipeline.js'
import { ApiError, errorResponse } from './errors.js'
import type { HttpEnv } from './http-env.js'
import { requestId } from './request-id.js'
import { eventRoutes } from './routes/events.js'
import { healthRoutes } from './routes/health.js'

export interface HttpAppOptions {
  readonly batchMaxEvents: number
  readonly maxBodyBytes: number
  readonly storageRetryAfterSeconds?: number
}

export interface HttpAppDeps {
  readonly pipeline: Pipeline
  readonly logger: Logger
  readonly startedAt?: number
}

/** The REST surface of API.md §3 as one Hono app; tests drive it with `app.request(…)`, no socket. */
export function createHttpApp(options: HttpAppOptions, deps: HttpAppDeps): OpenAPIHono<HttpEnv> {
  const { logger } = deps
  const app = new OpenAPIHono<HttpEnv>()

  app.use(requestId())
  app.use(async function requestLog(c, next) {
    const started = performance.now()
    await next()
    if (logger.isLevelEnabled('debug')) {
      logger.debug({ requestId: c.get('requestId'), method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - started) }, 'request')
    }
  })

  eventRoutes(app, { pipeline: deps.pipeline, ...options, storageRetryAfterSeconds: options.storageRetryAfterSeconds ?? 5 })
  healthRoutes(app, deps.startedAt ?? Date.now())

  // A known path with another method is 405, not 404.
  const methods: Record<string, string> = { '/v1/events': 'POST', '/v1/events/batch': 'POST', '/health': 'GET' }
  for (const [path, allow] of Object.entries(methods)) {
    app.all(path, (c) => {
      c.header('Allow', allow)
      throw new ApiError(405, 'method_not_allowed', `${c.req.method} is not allowed on ${path}; use ${allow}`)
    })
  }

  app.notFound((c) => errorResponse(c, new ApiError(404, 'not_found', `no route for ${c.req.method} ${c.req.path}`)))
  app.onError((error, c) => {
    if (error instanceof ApiError) return errorResponse(c, error)
    // Logged once, here, with the request id; the client gets the error shape without a stack trace.
    logger.error({ requestId: c.get('requestId'), err: error, method: c.req.method, path: c.req.path }, 'request failed')
    return errorResponse(c, new ApiError(500, 'internal', 'internal error'))
  })
  return app
}
