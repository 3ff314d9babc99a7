import { createRoute, z } from '@hono/zod-openapi'
import { errorExamples } from '../examples.js'
import { errorResponses, jsonResponse } from '../openapi-responses.js'
import { ErrorSchema, EventResultSchema } from '../schemas.js'
import {
  posthogBatchAnswer,
  posthogBatchExample,
  sdkUnauthorized,
  segmentBatchAnswer,
  segmentBatchExample,
  segmentCallExamples,
  settingsExample,
  storageFailedAnswer,
} from './sdk-examples.js'
import { SEGMENT_CALLS, type SegmentCall } from './segment-message.js'

/** The drop-in endpoints' part of the OpenAPI document (API.md §9), all under the tag `compatibility`. */

const TAG = 'compatibility'
/** Every key form of §9; all are open when API_KEYS is unset. */
export const SDK_SECURITY: Array<Record<string, string[]>> = [
  { basicAuth: [] },
  { writeKeyHeader: [] },
  { bearerAuth: [] },
  { apiKeyHeader: [] },
]

const Fields = z.record(z.string(), z.unknown())
const Time = z.union([z.string(), z.number().int()])

const SegmentMessageSchema = z
  .looseObject({
    type: z.enum(SEGMENT_CALLS).optional(),
    messageId: z.string().optional().meta({ description: 'the idempotency key: the event id' }),
    event: z
      .string()
      .optional()
      .meta({ description: 'a track: the event name, which becomes the type' }),
    userId: z.string().nullable().optional(),
    anonymousId: z.string().nullable().optional(),
    properties: Fields.optional(),
    traits: Fields.optional(),
    context: Fields.optional(),
    timestamp: Time.optional(),
    originalTimestamp: Time.optional(),
    sentAt: Time.optional(),
    writeKey: z.string().optional(),
  })
  .meta({
    id: 'SegmentMessage',
    description: 'A Segment / RudderStack message; every field is kept',
  })

const SegmentBatchSchema = z
  .looseObject({
    batch: z.array(SegmentMessageSchema).min(1),
    context: Fields.optional(),
    sentAt: Time.optional(),
    writeKey: z.string().optional(),
  })
  .meta({ id: 'SegmentBatch' })

const PosthogMessageSchema = z
  .looseObject({
    event: z.string(),
    distinct_id: z.union([z.string(), z.number()]).optional(),
    uuid: z.string().optional().meta({ description: 'the idempotency key: the event id' }),
    properties: Fields.optional(),
    timestamp: Time.optional(),
    api_key: z.string().optional(),
  })
  .meta({ id: 'PosthogMessage', description: 'A PostHog message; every field is kept' })

const PosthogBodySchema = z
  .union([
    z.looseObject({
      api_key: z.string().optional(),
      batch: z.array(PosthogMessageSchema).min(1),
      sent_at: Time.optional(),
    }),
    PosthogMessageSchema,
    z.array(PosthogMessageSchema).min(1),
  ])
  .meta({ id: 'PosthogBody' })

const counts = {
  accepted: z.number().int(),
  duplicates: z.number().int(),
  rejected: z.number().int(),
  failed: z.number().int(),
  results: z.array(EventResultSchema),
}
const SdkAnswerSchema = z
  .object({ success: z.literal(true), ...counts })
  .meta({ id: 'SdkBatchResponse' })
const SdkFailedSchema = z
  .object({
    success: z.literal(false),
    error: ErrorSchema.shape.error,
    ...counts,
  })
  .meta({ id: 'SdkStorageUnavailable' })

const SettingsSchema = z
  .looseObject({
    integrations: z.looseObject({
      'Segment.io': z.looseObject({
        apiKey: z.string(),
        apiHost: z.string(),
        protocol: z.string(),
      }),
    }),
  })
  .meta({ id: 'SegmentSettings' })

function answers(okExample: unknown) {
  return {
    200: jsonResponse(
      SdkAnswerSchema,
      'Every message settled: accepted, duplicate or rejected (§2 results)',
      {
        settled: { value: okExample },
      },
    ),
    ...errorResponses({
      400: ['invalid_json', 'invalid_batch', 'invalid_event', 'batch_too_large'],
      408: ['request_timeout'],
      413: ['payload_too_large'],
    }),
    401: jsonResponse(ErrorSchema, 'A valid write key is needed (only when API_KEYS is set)', {
      unauthorized: sdkUnauthorized,
    }),
    429: jsonResponse(ErrorSchema, 'Overloaded: retry after Retry-After seconds (SDKs back off)', {
      overloaded: errorExamples.overloaded,
    }),
    503: jsonResponse(
      SdkFailedSchema,
      'Some message could not be committed now: the SDK sends the batch again after Retry-After, and what was stored comes back duplicate',
      { storage_unavailable: { value: storageFailedAnswer } },
    ),
  }
}

const body = (schema: z.ZodType, example: unknown) => ({
  required: true,
  content: {
    'application/json': { schema, examples: { 'as an SDK sends it': { value: example } } },
  },
})

const SEGMENT_DESCRIPTION =
  "Each message becomes an event (API.md §9): `messageId` → id, a track's `event` (or the call) → type, `userId` or `anonymousId` → userId, " +
  'the timestamp corrected with `sentAt`, `properties` or `traits` → properties with `$segment` holding every other field. ' +
  'The body is read as JSON whatever its Content-Type; gzip is inflated. A message that cannot be mapped is rejected on its own.'

export function segmentBatchRoute(path: string) {
  return createRoute({
    method: 'post',
    path,
    tags: [TAG],
    summary: `Segment / RudderStack batch (${path})`,
    description: SEGMENT_DESCRIPTION,
    security: SDK_SECURITY,
    request: { body: body(SegmentBatchSchema, segmentBatchExample) },
    responses: answers(segmentBatchAnswer),
  })
}

export function segmentCallRoute(path: string, call: SegmentCall) {
  const example = segmentCallExamples[call]!
  return createRoute({
    method: 'post',
    path,
    tags: [TAG],
    summary: `Segment ${call} (${path})`,
    description: `One ${call} message; \`type\` may be left out. ${SEGMENT_DESCRIPTION}`,
    security: SDK_SECURITY,
    request: { body: body(SegmentMessageSchema, example) },
    responses: answers({
      success: true,
      accepted: 1,
      duplicates: 0,
      rejected: 0,
      failed: 0,
      results: [{ index: 0, id: example.messageId, status: 'accepted' }],
    }),
  })
}

export function posthogRoute(path: string) {
  return createRoute({
    method: 'post',
    path,
    tags: [TAG],
    summary: `PostHog capture (${path})`,
    description:
      'Takes `{"api_key","batch":[…],"sent_at"}`, one message, or an array of messages, on every PostHog path. ' +
      '`uuid` → id, `event` → type (`$pageview` keeps its `$`), `distinct_id` → userId, the timestamp corrected with `sent_at`, ' +
      '`properties` → properties with `$posthog` holding every other field. Gzip bodies are inflated, with or without Content-Encoding (`?compression=gzip-js`).',
    security: SDK_SECURITY,
    request: { body: body(PosthogBodySchema, posthogBatchExample) },
    responses: answers(posthogBatchAnswer),
  })
}

export const settingsRoute = createRoute({
  method: 'get',
  path: '/v1/projects/{writeKey}/settings',
  tags: [TAG],
  summary: 'Settings for analytics.js',
  description:
    'What `@segment/analytics-next` loads at start (point its `cdnURL` here): its `Segment.io` integration sends to this server, to the host the request came to.',
  request: { params: z.object({ writeKey: z.string().meta({ example: 'wk-example' }) }) },
  responses: {
    200: jsonResponse(SettingsSchema, 'The settings', { settings: { value: settingsExample } }),
    401: jsonResponse(ErrorSchema, 'The write key is not one of API_KEYS (only when it is set)', {
      unauthorized: sdkUnauthorized,
    }),
  },
})
