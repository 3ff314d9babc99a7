import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi'
import type { HttpEnv } from '../http-env.js'
import { jsonResponse } from '../openapi-responses.js'
import type { MetricsSource, ReadinessCheck } from '../ports.js'
import { ReadySchema } from '../schemas.js'

export interface OperationsOptions {
  readonly checks: readonly ReadinessCheck[]
  /** a check that has not answered by then counts as failed */
  readonly readyTimeoutMs: number
  /** true once shutdown began: not ready, whatever the checks say */
  readonly stopping: () => boolean
  readonly metrics?: MetricsSource
}

export const readyRoute = createRoute({
  method: 'get',
  path: '/ready',
  tags: ['operations'],
  summary: 'Readiness',
  description:
    'Can Sluice take traffic now? Asks the dedupe store and ClickHouse, each with a short timeout; 503 names the one that failed. In embedded mode the checks name the embedded backends.',
  responses: {
    200: jsonResponse(ReadySchema, 'Ready', {
      ready: {
        value: {
          status: 'ready',
          requestId: 'r-1',
          checks: {
            redis: { status: 'ok', backend: 'redis', latencyMs: 1 },
            clickhouse: { status: 'ok', backend: 'clickhouse server', latencyMs: 2 },
          },
        },
      },
    }),
    503: jsonResponse(ReadySchema, 'Not ready: a check failed, or shutdown began', {
      'clickhouse down': {
        value: {
          status: 'unavailable',
          requestId: 'r-2',
          checks: {
            redis: { status: 'ok', backend: 'redis', latencyMs: 1 },
            clickhouse: {
              status: 'fail',
              backend: 'clickhouse server',
              error: 'connect ECONNREFUSED 127.0.0.1:8123',
            },
          },
        },
      },
    }),
  },
})

export const metricsRoute = createRoute({
  method: 'get',
  path: '/metrics',
  tags: ['operations'],
  summary: 'Prometheus metrics',
  description:
    'Events by transport and status, batches and rows committed, insert duration and retries, duplicates, events in flight, admission pauses, ingest lag, WebSocket connections, route deliveries, and the process metrics.',
  responses: {
    200: {
      description: 'Prometheus text exposition format',
      content: { 'text/plain': { schema: z.string() } },
    },
  },
})

export function operationsRoutes(app: OpenAPIHono<HttpEnv>, options: OperationsOptions): void {
  app.openapi(readyRoute, async function ready(c) {
    const results = await Promise.all(
      options.checks.map((check) => timed(check, options.readyTimeoutMs)),
    )
    const checks = Object.fromEntries(results.map((result) => [result.name, result.outcome]))
    const failed = results.some((result) => result.outcome.status === 'fail')
    const status = options.stopping() ? 'stopping' : failed ? 'unavailable' : 'ready'
    return c.json({ status, requestId: c.get('requestId'), checks }, status === 'ready' ? 200 : 503)
  })

  if (options.metrics) {
    const source = options.metrics
    app.openapi(metricsRoute, async function metrics(c) {
      return c.text(await source.metrics(), 200, { 'content-type': source.contentType })
    })
  }
}

type Outcome = { status: 'ok' | 'fail'; backend: string; latencyMs?: number; error?: string }

/** Asks one check with a timeout, as GET /ready does (GET /v1/status asks the same way). */
export async function timed(
  check: ReadinessCheck,
  timeoutMs: number,
): Promise<{ name: string; outcome: Outcome }> {
  const started = performance.now()
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>(
    (_, reject) =>
      (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)),
  )
  try {
    await Promise.race([check.check(), timeout])
    return {
      name: check.name,
      outcome: {
        status: 'ok',
        backend: check.backend,
        latencyMs: Math.round(performance.now() - started),
      },
    }
  } catch (error) {
    return {
      name: check.name,
      outcome: {
        status: 'fail',
        backend: check.backend,
        error: error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : String(error),
      },
    }
  } finally {
    clearTimeout(timer)
  }
}
