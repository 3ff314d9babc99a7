import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { EventSchema } from '../../streams/event.js'
import { countResults, type EventResult } from '../../streams/outcome.js'
import type { Pipeline } from '../../streams/pipeline.js'
import { ApiError } from '../errors.js'
import type { HttpEnv } from '../http-env.js'
import { readJsonBody } from '../json-body.js'
import { BatchRequestSchema, BatchResponseSchema, ErrorSchema, EventResultSchema } from '../schemas.js'

export interface EventRoutesOptions {
  readonly pipeline: Pipeline
  readonly batchMaxEvents: number
  readonly maxBodyBytes: number
  /** what Retry-After says when storage is down past the retry budget */
  readonly storageRetryAfterSeconds: number
}

const json = <T>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } })
const errors = {
  400: json(ErrorSchema, 'invalid_json, invalid_event / invalid_batch, batch_too_large'),
  401: json(ErrorSchema, 'unauthorized (when API_KEYS is set)'),
  413: json(ErrorSchema, 'payload_too_large: the body is over MAX_BODY_BYTES (inflated size for gzip)'),
  415: json(ErrorSchema, 'unsupported_media_type: a content type other than JSON'),
  503: json(ErrorSchema, 'overloaded, or storage_unavailable; both with Retry-After'),
}

export const postEventRoute = createRoute({
  method: 'post',
  path: '/v1/events',
  tags: ['events'],
  summary: 'Send one event',
  description: 'Answers once the event is committed to ClickHouse (accepted) or found to be a duplicate. Sending the same id again is safe.',
  request: { body: { required: true, content: { 'application/json': { schema: EventSchema } } } },
  responses: { 202: json(EventResultSchema, 'accepted or duplicate'), ...errors },
})

export const postBatchRoute = createRoute({
  method: 'post',
  path: '/v1/events/batch',
  tags: ['events'],
  summary: 'Send a batch of events',
  description:
    'One result per event, in the order sent, once every event is settled. An invalid event is rejected on its own; a storage outage gives `failed` results (send those again later).',
  request: { body: { required: true, content: { 'application/json': { schema: BatchRequestSchema } } } },
  responses: { 200: json(BatchResponseSchema, 'every event settled'), ...errors },
})

/**
 * POST /v1/events and /v1/events/batch. The pipeline validates the events (one validation path for
 * both transports); the routes only read the body, check the batch envelope and map outcomes to statuses.
 * The route definitions feed the OpenAPI document; they do not validate, so that one bad event never
 * sinks a batch.
 */
export function eventRoutes(app: OpenAPIHono<HttpEnv>, options: EventRoutesOptions): void {
  const { pipeline, batchMaxEvents, maxBodyBytes, storageRetryAfterSeconds } = options

  app.openAPIRegistry.registerPath(postEventRoute)
  app.post('/v1/events', async function postEvent(c) {
    const [result] = await settle(pipeline, [await readJsonBody(c, maxBodyBytes)])
    switch (result!.status) {
      case 'accepted':
      case 'duplicate':
        return c.json(result, 202)
      case 'rejected':
        throw new ApiError(400, 'invalid_event', 'the event is invalid', { issues: result!.errors ?? [] })
      case 'failed':
        throw storageUnavailable(storageRetryAfterSeconds)
    }
  })

  app.openAPIRegistry.registerPath(postBatchRoute)
  app.post('/v1/events/batch', async function postBatch(c: Context<HttpEnv>) {
    const events = batchEvents(await readJsonBody(c, maxBodyBytes), batchMaxEvents)
    const results = await settle(pipeline, events)
    return c.json({ ...countResults(results), results }, 200)
  })
}

async function settle(pipeline: Pipeline, events: readonly unknown[]): Promise<EventResult[]> {
  const settled = pipeline.submit(events, 'rest')
  if (!settled) throw new ApiError(503, 'overloaded', 'too many events in flight; retry shortly', { retryAfterSeconds: 1 })
  return settled
}

function batchEvents(body: unknown, max: number): unknown[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ApiError(400, 'invalid_batch', 'the body must be an object {"events": [...]}', { issues: [{ path: '', message: 'expected an object' }] })
  }
  const unknownKeys = Object.keys(body).filter((key) => key !== 'events')
  if (unknownKeys.length > 0) {
    throw new ApiError(400, 'invalid_batch', `unknown key${unknownKeys.length > 1 ? 's' : ''} ${unknownKeys.map((k) => JSON.stringify(k)).join(', ')}`, {
      issues: unknownKeys.map((path) => ({ path, message: 'unknown key' })),
    })
  }
  const { events } = body as { events?: unknown }
  if (!Array.isArray(events)) throw new ApiError(400, 'invalid_batch', '"events" must be an array of events', { issues: [{ path: 'events', message: 'expected an array' }] })
  if (events.length === 0) throw new ApiError(400, 'invalid_batch', '"events" must hold at least one event', { issues: [{ path: 'events', message: 'empty' }] })
  if (events.length > max) throw new ApiError(400, 'batch_too_large', `a batch holds at most ${max} events; this one has ${events.length}`)
  return events
}

function storageUnavailable(retryAfterSeconds: number): ApiError {
  return new ApiError(503, 'storage_unavailable', 'the event could not be committed now; send it again later', { retryAfterSeconds })
}
