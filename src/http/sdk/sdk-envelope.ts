import { batchArray } from '../batch-array.js'
import { ApiError } from '../errors.js'
import { isObject, jsonTypeOf } from './message-mapping.js'

/** What a drop-in body holds once it is known to be usable: the messages and the batch around them. */
export interface SdkEnvelope {
  readonly messages: readonly unknown[]
  readonly context?: unknown
  readonly sentAt?: unknown
}

/** Segment / RudderStack `/v1/batch`, `/v1/import`, `/v1/b`: `{"batch":[…],"context"?,"sentAt"?,"writeKey"?}`. */
export function segmentBatch(body: unknown, max: number): SdkEnvelope {
  if (!isObject(body))
    throw notBatch(`the body must be an object {"batch": [...]}, not ${jsonTypeOf(body)}`)
  return {
    messages: batchOf(body.batch, max),
    context: body.context,
    sentAt: body.sentAt,
  }
}

/** A single-call path (`/v1/track`, `/v1/t`, …): the body is one message, its key inside it. */
export function segmentMessage(body: unknown): SdkEnvelope {
  if (!isObject(body))
    throw new ApiError(
      400,
      'invalid_event',
      `the body must be one message object, not ${jsonTypeOf(body)}`,
    )
  return { messages: [body] }
}

/**
 * PostHog's paths take every form its SDKs send, whichever the path: `{"api_key","batch":[…],"sent_at"?}`
 * (posthog-node's `/batch/`), one message with its `api_key` (`/capture/`, `/i/v0/e/`), or a bare
 * array of messages (posthog-js), whose key is the first message's `api_key`, or the `token` that
 * posthog-js puts in each message's properties.
 */
export function posthogBody(body: unknown, max: number): SdkEnvelope {
  if (Array.isArray(body)) return { messages: batchOf(body, max) }
  if (!isObject(body))
    throw notBatch(
      `the body must be a message, an array of them or {"batch": [...]}, not ${jsonTypeOf(body)}`,
    )
  if (body.batch === undefined) return { messages: [body] }
  return { messages: batchOf(body.batch, max), sentAt: body.sent_at }
}

/**
 * The key a Segment body holds (`writeKey`, in a batch or a single message), read from whatever JSON
 * came: with API_KEYS set, a missing or wrong key is 401 before the body itself is judged (API.md §9).
 */
export function segmentBodyKey(body: unknown): unknown {
  return isObject(body) ? body.writeKey : undefined
}

/** The key a PostHog body holds (`api_key` of the batch, of the message or of the first message, or its `token`). */
export function posthogBodyKey(body: unknown): unknown {
  if (Array.isArray(body)) return isObject(body[0]) ? keyOfMessage(body[0]) : undefined
  if (!isObject(body)) return undefined
  return body.batch === undefined ? keyOfMessage(body) : body.api_key
}

function keyOfMessage(message: Record<string, unknown>): unknown {
  return message.api_key ?? (isObject(message.properties) ? message.properties.token : undefined)
}

function batchOf(batch: unknown, max: number): readonly unknown[] {
  return batchArray(batch, 'batch', 'message', max)
}

function notBatch(message: string, path = ''): ApiError {
  return new ApiError(400, 'invalid_batch', message, { issues: [{ path, message }] })
}
