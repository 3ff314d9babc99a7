import { OpenAPIHono } from '@hono/zod-openapi'
import { cors } from 'hono/cors'
import type { Logger } from 'pino'
import { createApiKeyCheck } from '../wire/api-keys.js'
import type { Pipeline } from '../streams/pipeline.js'
import { requireApiKey } from './auth.js'
import { ApiError, errorResponse } from './errors.js'
import type { HttpEnv } from './http-env.js'
import type {
  DeadLetterAdmin,
  EventReader,
  HttpTelemetry,
  MetricsSource,
  ReadinessCheck,
} from './ports.js'
import { requestId } from './request-id.js'
import { createBodyBudget } from './body-budget.js'
import { closeAfterUnreadBody } from './unread-body.js'
import { consoleRoutes } from './console/index.js'
import { quote } from '../streams/quote.js'
import { boundedIssues, boundedPath } from '../streams/properties.js'
import { deadLetterRoutes } from './routes/dead-letters.js'
import { docsRoutes } from './routes/docs.js'
import { eventRoutes } from './routes/events.js'
import { healthRoutes } from './routes/health.js'
import { operationsRoutes } from './routes/operations.js'
import { readEventsRoutes } from './routes/read-events.js'
import { statusRoutes, type StatusSource } from './routes/status.js'
import { exceptSdkPaths, SDK_METHODS, sdkRoutes } from './sdk/index.js'

export interface HttpAppOptions {
  readonly batchMaxEvents: number
  readonly maxBodyBytes: number
  /** MAX_INFLIGHT_BYTES: bytes of request bodies being read at once, in all (default: 64 × maxBodyBytes) */
  readonly maxBodyBytesInFlight?: number
  readonly storageRetryAfterSeconds?: number
  readonly apiKeys?: readonly string[]
  /** `['*']` for any origin */
  readonly corsOrigins?: readonly string[]
  readonly metricsRequireKey?: boolean
  readonly readyTimeoutMs?: number
  readonly version?: string
  /** DOCS_PERSIST_AUTHORIZATION: let Swagger UI keep a key in the browser's localStorage (default false) */
  readonly docsPersistAuthorization?: boolean
  /** PUBLIC_URL: where browsers reach Sluice (behind a proxy), for the settings analytics.js loads */
  readonly publicUrl?: string
}

export interface HttpAppDeps {
  readonly pipeline: Pipeline
  readonly logger: Logger
  readonly reader?: EventReader
  readonly deadLetters?: DeadLetterAdmin
  readonly checks?: readonly ReadinessCheck[]
  readonly metrics?: MetricsSource
  readonly telemetry?: HttpTelemetry
  readonly stopping?: () => boolean
  readonly startedAt?: number
  /** GET /v1/status and the console at GET /console (absent: neither is served) */
  readonly status?: StatusSource
}

/** Allowed methods of each known path: another method is 405, not 404. */
const METHODS: Record<string, string> = {
  '/v1/events': 'GET, POST',
  '/v1/events/batch': 'POST',
  '/v1/dead-letters': 'GET',
  '/v1/dead-letters/replay': 'POST',
  '/v1/status': 'GET',
  '/console': 'GET',
  '/health': 'GET',
  '/ready': 'GET',
  '/metrics': 'GET',
  '/openapi.json': 'GET',
  '/docs': 'GET',
}

/** The REST surface of API.md §3 as one Hono app; tests drive it with `app.request(…)`, no socket. */
export function createHttpApp(options: HttpAppOptions, deps: HttpAppDeps): OpenAPIHono<HttpEnv> {
  const { logger, telemetry = {} } = deps
  const app = new OpenAPIHono<HttpEnv>({
    defaultHook(result) {
      if (!result.success) {
        const issues = result.error.issues.flatMap((issue) =>
          issue.code === 'unrecognized_keys'
            ? issue.keys.map((key) => ({ path: boundedPath(key), message: 'unknown parameter' }))
            : [{ path: boundedPath(issue.path.join('.')), message: issue.message }],
        )
        throw new ApiError(400, 'invalid_query', 'the query is invalid', {
          issues: boundedIssues(issues),
        })
      }
    },
  })

  app.use(closeAfterUnreadBody())
  app.use(requestId())
  const bodyBudget = createBodyBudget(options.maxBodyBytesInFlight ?? 64 * options.maxBodyBytes)
  app.use(async function bodies(c, next) {
    c.set('bodyBudget', bodyBudget)
    await next()
  })
  app.use(async function requestLog(c, next) {
    const started = performance.now()
    await next()
    telemetry.requestAnswered?.(
      c.req.routePath === '/*' ? 'unmatched' : c.req.routePath,
      c.res.status,
    )
    if (logger.isLevelEnabled('debug')) {
      logger.debug(
        {
          requestId: c.get('requestId'),
          method: c.req.method,
          path: c.req.path,
          status: c.res.status,
          ms: Math.round(performance.now() - started),
        },
        'request',
      )
    }
  })
  if (options.corsOrigins && options.corsOrigins.length > 0) {
    const origins = options.corsOrigins
    app.use(
      cors({
        origin: origins.includes('*') ? '*' : [...origins],
        allowMethods: ['GET', 'POST', 'OPTIONS'],
        allowHeaders: [
          'Content-Type',
          'Content-Encoding',
          'Authorization',
          'X-API-Key',
          'X-Request-Id',
          // analytics SDKs' write key header (API.md §9)
          'X-Write-Key',
          // analytics.js numbers each re-send with it: refused at the preflight, its retries never arrive
          'X-Retry-Count',
        ],
        exposeHeaders: ['X-Request-Id', 'Retry-After'],
        maxAge: 600,
      }),
    )
  }
  const keys = createApiKeyCheck(options.apiKeys)
  app.use('/v1/*', exceptSdkPaths(requireApiKey(keys)))
  if (options.metricsRequireKey) app.use('/metrics', requireApiKey(keys))

  eventRoutes(app, {
    pipeline: deps.pipeline,
    ...options,
    storageRetryAfterSeconds: options.storageRetryAfterSeconds ?? 5,
  })
  sdkRoutes(app, {
    pipeline: deps.pipeline,
    keys,
    batchMaxEvents: options.batchMaxEvents,
    maxBodyBytes: options.maxBodyBytes,
    storageRetryAfterSeconds: options.storageRetryAfterSeconds ?? 5,
    publicUrl: options.publicUrl === undefined ? undefined : new URL(options.publicUrl),
  })
  if (deps.reader) readEventsRoutes(app, deps.reader)
  if (deps.deadLetters) deadLetterRoutes(app, deps.deadLetters, options.maxBodyBytes)
  healthRoutes(app, deps.startedAt ?? Date.now())
  operationsRoutes(app, {
    checks: deps.checks ?? [],
    readyTimeoutMs: options.readyTimeoutMs ?? 1000,
    stopping: deps.stopping ?? (() => false),
    metrics: deps.metrics,
  })
  const status = deps.status
  if (status) {
    statusRoutes(app, {
      source: status,
      checks: deps.checks ?? [],
      readyTimeoutMs: options.readyTimeoutMs ?? 1000,
      stopping: deps.stopping ?? (() => false),
    })
    consoleRoutes(app, { wsPort: () => status.wsPort() })
  }
  docsRoutes(app, {
    persistAuthorization: options.docsPersistAuthorization,
    title: 'Sluice',
    version: options.version ?? '0.1.0',
    description:
      'Event ingestion: send events over REST (or WebSocket), get one result per event once it is committed to ClickHouse. ' +
      'Every event is validated, de-duplicated by its `id` inside the dedupe window, and stored once. Errors have one shape: ' +
      '`{"error":{"code","message","requestId","issues"?}}`; every response carries `X-Request-Id`.',
  })

  for (const [path, allow] of Object.entries({ ...METHODS, ...SDK_METHODS })) {
    app.all(path, (c) => {
      c.header('Allow', allow)
      throw new ApiError(
        405,
        'method_not_allowed',
        `${c.req.method} is not allowed on ${path}; use ${allow}`,
      )
    })
  }

  app.notFound((c) =>
    errorResponse(
      c,
      new ApiError(404, 'not_found', `no route for ${c.req.method} ${quote(c.req.path, 128)}`),
    ),
  )
  app.onError((error, c) => {
    if (error instanceof ApiError) {
      if (error.status >= 500 && error.options.cause !== undefined)
        logger.warn(
          { requestId: c.get('requestId'), err: error.options.cause, code: error.code },
          error.message,
        )
      return errorResponse(c, error)
    }
    // Logged once, here, with the request id; the client gets the error shape without a stack trace.
    logger.error(
      { requestId: c.get('requestId'), err: error, method: c.req.method, path: c.req.path },
      'request failed',
    )
    return errorResponse(c, new ApiError(500, 'internal', 'internal error'))
  })
  return app
}
