import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi'
import {
  ReplayInProgressError,
  RoutingStoppedError,
  UnknownRouteError,
} from '../../streams/routing/router.js'
import { ApiError } from '../errors.js'
import type { HttpEnv } from '../http-env.js'
import { readJsonBody } from '../json-body.js'
import { errorResponses, jsonResponse, SECURITY } from '../openapi-responses.js'
import type { DeadLetterAdmin } from '../ports.js'
import { StoredEventSchema } from '../schemas.js'
import { limitParameter, sinceParameter } from './read-events.js'
import { boundedIssues, boundedPath } from '../../streams/properties.js'

const ROUTE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/
const routeName = z.string().regex(ROUTE_NAME, 'must be a route name from ROUTES_FILE')

const DeadLetterSchema = z
  .object({
    route: z.string().meta({ example: 'analytics' }),
    event: StoredEventSchema,
    error: z.string().meta({ example: 'HTTP 503 Service Unavailable' }),
    attempts: z.number().int().meta({ example: 8 }),
    time: z.string().meta({
      description: 'when it was written: RFC 3339 with milliseconds',
      example: '2026-11-26T10:05:00.000Z',
    }),
  })
  .meta({ id: 'DeadLetter', description: 'An event a route gave up on (API.md §5)' })

const ListQuerySchema = z.strictObject({
  route: routeName.optional().meta({ description: 'Only this route (e.g. analytics)' }),
  since: sinceParameter.optional(),
  limit: limitParameter('How many, 1 to 1000'),
})

const ReplaySchema = z
  .strictObject({
    route: routeName.meta({ example: 'analytics' }),
    since: z.union([z.string(), z.number().int()]).optional().meta({
      description: 'Only dead letters written at or after this instant: RFC 3339 or epoch ms',
    }),
  })
  .meta({ id: 'ReplayRequest' })

const replayExample = { route: 'analytics' }
const deadLetterExample = {
  route: 'analytics',
  event: {
    id: 'evt-0001',
    type: 'page_view',
    timestamp: '2026-11-26T10:00:00.123Z',
    receivedAt: '2026-11-26T10:00:00.200Z',
    transport: 'rest',
  },
  error: 'HTTP 503 Service Unavailable',
  attempts: 8,
  time: '2026-11-26T10:05:00.000Z',
}

export const listDeadLettersRoute = createRoute({
  method: 'get',
  path: '/v1/dead-letters',
  tags: ['routing'],
  summary: 'List dead letters',
  description:
    'Events a route gave up on (attempts exhausted, refused with a 4xx, or its queue overflowed), newest first, with the last error and the attempts made.',
  security: SECURITY,
  request: { query: ListQuerySchema },
  responses: {
    200: jsonResponse(
      z.object({ deadLetters: z.array(DeadLetterSchema) }).meta({ id: 'DeadLetters' }),
      'The newest dead letters',
      { 'a dead letter': { value: { deadLetters: [deadLetterExample] } } },
    ),
    ...errorResponses({
      400: ['invalid_query'],
      401: ['unauthorized'],
      503: ['storage_unavailable'],
    }),
  },
})

export const replayDeadLettersRoute = createRoute({
  method: 'post',
  path: '/v1/dead-letters/replay',
  tags: ['routing'],
  summary: 'Send dead letters again',
  description:
    "Sends a route's dead letters (all, or those written since `since`) through the route again — batching, retries, breaker and all. " +
    'Each is removed from dead letters once handed back to the route; one that fails again is written anew. ' +
    'One replay of a route runs at a time over all instances (a lock in Redis): another asked for meanwhile, on any instance, is answered `409 replay_in_progress`.',
  security: SECURITY,
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: ReplaySchema,
          examples: { 'a route': { value: replayExample } },
        },
      },
    },
  },
  responses: {
    200: jsonResponse(
      z.object({ replayed: z.number().int() }).meta({ id: 'ReplayResult' }),
      'How many were handed back to the route',
      { replayed: { value: { replayed: 42 } } },
    ),
    ...errorResponses({
      400: ['invalid_json', 'invalid_request'],
      401: ['unauthorized'],
      408: ['request_timeout'],
      409: ['replay_in_progress'],
      503: ['overloaded', 'storage_unavailable'],
    }),
    404: jsonResponse(z.any(), 'No route of that name is configured', {
      'unknown route': {
        value: {
          error: {
            code: 'not_found',
            message: 'no route named "nope"',
            requestId: '0193a3c2-7f00-7000-8000-000000000000',
          },
        },
      },
    }),
  },
})

export function deadLetterRoutes(
  app: OpenAPIHono<HttpEnv>,
  admin: DeadLetterAdmin,
  maxBodyBytes: number,
): void {
  app.openapi(listDeadLettersRoute, async function listDeadLetters(c) {
    const { route, since, limit } = c.req.valid('query')
    try {
      const deadLetters = await admin.list({
        ...(route !== undefined && { route }),
        ...(since !== undefined && { sinceMs: since }),
        limit,
      })
      return c.json({ deadLetters: deadLetters as Array<z.infer<typeof DeadLetterSchema>> }, 200)
    } catch (cause) {
      throw new ApiError(
        503,
        'storage_unavailable',
        'dead letters cannot be read now; try again later',
        { retryAfterSeconds: 5, cause },
      )
    }
  })

  // The body is read and checked here (not by the route's validator) so that errors keep API.md's shape.
  app.openAPIRegistry.registerPath(replayDeadLettersRoute)
  app.post('/v1/dead-letters/replay', async function replay(c) {
    const parsed = ReplaySchema.safeParse((await readJsonBody(c, maxBodyBytes)).value)
    if (!parsed.success)
      throw new ApiError(400, 'invalid_request', 'the replay request is invalid', {
        issues: boundedIssues(
          parsed.error.issues.map((i) => ({
            path: boundedPath(i.path.join('.')),
            message: i.message,
          })),
        ),
      })
    const since =
      parsed.data.since === undefined
        ? undefined
        : sinceParameter.safeParse(String(parsed.data.since))
    if (since && !since.success)
      throw new ApiError(400, 'invalid_request', 'the replay request is invalid', {
        issues: [
          { path: 'since', message: 'must be an RFC 3339 date-time or integer epoch milliseconds' },
        ],
      })
    try {
      return c.json(await admin.replay(parsed.data.route, since?.data), 200)
    } catch (error) {
      if (error instanceof UnknownRouteError) throw new ApiError(404, 'not_found', error.message)
      if (error instanceof ReplayInProgressError)
        throw new ApiError(409, 'replay_in_progress', error.message)
      if (error instanceof RoutingStoppedError)
        throw new ApiError(
          503,
          'overloaded',
          'routing is shutting down; try again on another instance',
          { retryAfterSeconds: 1 },
        )
      throw new ApiError(
        503,
        'storage_unavailable',
        'dead letters cannot be read now; try again later',
        { retryAfterSeconds: 5, cause: error },
      )
    }
  })
}
