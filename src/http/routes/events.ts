import { createRoute, type OpenAPIHono } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { EventSchema } from '../../streams/event.js'
import { countResults, type EventResult } from '../../streams/outcome.js'
import { boundedIssues, boundedPath, MAX_ISSUES } from '../../streams/properties.js'
import { quoteList } from '../../streams/quote.js'
import type { Pipeline } from '../../streams/pipeline.js'
import { applyKeySource } from '../../wire/api-keys.js'
import { batchArray } from '../batch-array.js'
import { ApiError } from '../errors.js'
import type { HttpEnv } from '../http-env.js'
import { readJsonBody, type JsonBody } from '../json-body.js'
import { mixedBatch, mixedBatchResponse, validEvent } from '../examples.js'
import { errorResponses, jsonResponse, SECURITY } from '../openapi-responses.js'
import { BatchRequestSchema, BatchResponseSchema, EventResultSchema } from '../schemas.js'

export interface EventRoutesOptions {
  readonly pipeline: Pipeline
  readonly batchMaxEvents: number
  readonly maxBodyBytes: number
  /** what Retry-After says when storage is down past the retry budget */
  readonly storageRetryAfterSeconds: number
}

export const postEventRoute = createRoute({
  method: 'post',
  path: '/v1/events',
  tags: ['events'],
  summary: 'Send one event',
  description:
    'Validates the event, drops it if its id was already accepted inside the dedupe window, otherwise commits it to ClickHouse — and only then answers. ' +
    'Sending the same event again is always safe: it answers `duplicate`. An event without an `id` gets a UUIDv7.',
  security: SECURITY,
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: EventSchema,
          examples: { 'a valid event': { value: validEvent } },
        },
      },
    },
  },
  responses: {
    202: jsonResponse(
      EventResultSchema,
      'Accepted (committed) or duplicate (already stored; `conflict: true` when the stored content differs)',
      {
        accepted: { value: { index: 0, id: 'evt-0001', status: 'accepted' } },
        duplicate: { value: { index: 0, id: 'evt-0001', status: 'duplicate' } },
      },
    ),
    ...errorResponses({
      400: ['invalid_json', 'invalid_event'],
      401: ['unauthorized'],
      408: ['request_timeout'],
      413: ['payload_too_large'],
      415: ['unsupported_media_type'],
      503: ['overloaded', 'storage_unavailable'],
    }),
  },
})

export const postBatchRoute = createRoute({
  method: 'post',
  path: '/v1/events/batch',
  tags: ['events'],
  summary: 'Send a batch of events',
  description:
    'Up to BATCH_MAX_EVENTS (default 1000) events. Answers once every event is settled, with one result per event in the order sent. ' +
    'An invalid event is rejected on its own and never sinks the others; the same id twice in one batch is stored once; ' +
    'a storage outage answers 200 with `failed` results — send those again later.',
  security: SECURITY,
  request: {
    body: {
      required: true,
      content: {
        'application/json': {
          schema: BatchRequestSchema,
          examples: { 'a mixed batch': { value: mixedBatch } },
        },
      },
    },
  },
  responses: {
    200: jsonResponse(BatchResponseSchema, 'Every event settled', {
      'a mixed batch': { value: mixedBatchResponse },
    }),
    ...errorResponses({
      400: ['invalid_json', 'invalid_batch', 'batch_too_large'],
      401: ['unauthorized'],
      408: ['request_timeout'],
      413: ['payload_too_large'],
      415: ['unsupported_media_type'],
      503: ['overloaded'],
    }),
  },
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
    const [result] = await settle(pipeline, await readJsonBody(c, maxBodyBytes), (value) =>
      applyKeySource([value], c.get('keyHolder')),
    )
    switch (result!.status) {
      case 'accepted':
      case 'duplicate':
        return c.json(result, 202)
      case 'rejected':
        throw new ApiError(400, 'invalid_event', 'the event is invalid', {
          issues: result!.errors ?? [],
        })
      case 'failed':
        throw storageUnavailable(storageRetryAfterSeconds)
    }
  })

  app.openAPIRegistry.registerPath(postBatchRoute)
  app.post('/v1/events/batch', async function postBatch(c: Context<HttpEnv>) {
    const results = await settle(pipeline, await readJsonBody(c, maxBodyBytes), (value) =>
      applyKeySource(batchEvents(value, batchMaxEvents), c.get('keyHolder')),
    )
    return c.json({ ...countResults(results), results }, 200)
  })
}

/** The body's events, charged to admission by the body's size (MAX_INFLIGHT_BYTES); no await holds them. */
async function settle(
  pipeline: Pipeline,
  body: JsonBody,
  eventsOf: (value: unknown) => readonly unknown[],
): Promise<EventResult[]> {
  const settled = pipeline.submit(eventsOf(body.value), 'rest', body.bytes)
  if (!settled)
    throw new ApiError(503, 'overloaded', 'too many events in flight; retry shortly', {
      retryAfterSeconds: 1,
    })
  return settled
}

function batchEvents(body: unknown, max: number): unknown[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ApiError(400, 'invalid_batch', 'the body must be an object {"events": [...]}', {
      issues: [{ path: '', message: 'expected an object' }],
    })
  }
  const unknownKeys = Object.keys(body).filter((key) => key !== 'events')
  if (unknownKeys.length > 0) {
    throw new ApiError(
      400,
      'invalid_batch',
      `unknown key${unknownKeys.length > 1 ? 's' : ''} ${quoteList(unknownKeys)}`,
      {
        issues: boundedIssues(
          unknownKeys
            .slice(0, MAX_ISSUES)
            .map((path) => ({ path: boundedPath(path), message: 'unknown key' })),
          Math.max(0, unknownKeys.length - MAX_ISSUES),
        ),
      },
    )
  }
  return batchArray((body as { events?: unknown }).events, 'events', 'event', max)
}

function storageUnavailable(retryAfterSeconds: number): ApiError {
  return new ApiError(
    503,
    'storage_unavailable',
    'the event could not be committed now; send it again later',
    { retryAfterSeconds },
  )
}
