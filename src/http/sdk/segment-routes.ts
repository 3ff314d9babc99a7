import type { OpenAPIHono } from '@hono/zod-openapi'
import type { Context } from 'hono'
import { ApiError } from '../errors.js'
import type { HttpEnv } from '../http-env.js'
import { readJsonBody } from '../json-body.js'
import { answerMessages } from './sdk-answer.js'
import { segmentBatch, segmentBodyKey, segmentMessage, type SdkEnvelope } from './sdk-envelope.js'
import { bodyKeyHolder, headerKeyHolder } from './sdk-key.js'
import { segmentBatchRoute, segmentCallRoute, settingsRoute } from './sdk-openapi.js'
import { SDK_BODY, type SdkRoutesOptions } from './sdk-routes-options.js'
import { segmentEvent, type SegmentCall } from './segment-message.js'
import { publicOrigin } from './public-origin.js'
import { segmentSettings } from './segment-settings.js'

/** `/v1/batch` and `/v1/import` (server SDKs, the HTTP Tracking API), `/v1/b` (analytics.js batching). */
export const SEGMENT_BATCH_PATHS = ['/v1/batch', '/v1/import', '/v1/b'] as const

/** The single-call paths: the HTTP Tracking API's names and analytics.js's one-letter ones. */
export const SEGMENT_CALL_PATHS: Readonly<Record<string, SegmentCall>> = {
  '/v1/track': 'track',
  '/v1/identify': 'identify',
  '/v1/page': 'page',
  '/v1/screen': 'screen',
  '/v1/group': 'group',
  '/v1/alias': 'alias',
  '/v1/t': 'track',
  '/v1/i': 'identify',
  '/v1/p': 'page',
  '/v1/s': 'screen',
  '/v1/g': 'group',
  '/v1/a': 'alias',
}

export const SEGMENT_SETTINGS_PATH = '/v1/projects/:writeKey/settings'

/**
 * Segment's and RudderStack's endpoints (API.md §9): each request's messages are mapped onto events
 * and submitted to the same pipeline as REST's, in one submission.
 */
export function segmentRoutes(app: OpenAPIHono<HttpEnv>, options: SdkRoutesOptions): void {
  const { keys, batchMaxEvents, maxBodyBytes } = options

  async function receive(
    c: Context<HttpEnv>,
    envelopeOf: (body: unknown) => SdkEnvelope,
    call?: SegmentCall,
  ): Promise<Response> {
    const fromHeader = headerKeyHolder(keys, c)
    const body = await readJsonBody(c, maxBodyBytes, SDK_BODY)
    const holder = fromHeader ?? bodyKeyHolder(keys, c, segmentBodyKey(body.value))
    const envelope = envelopeOf(body.value)
    // Read once the body is in: `sentAt` was stamped just before sending, so this is its other end.
    const frame = {
      context: envelope.context,
      sentAt: envelope.sentAt,
      receivedAt: Date.now(),
      call,
    }
    const mapped = envelope.messages.map((message) => segmentEvent(message, frame))
    return answerMessages(c, options, mapped, holder, body.bytes)
  }

  for (const path of SEGMENT_BATCH_PATHS) {
    app.openAPIRegistry.registerPath(segmentBatchRoute(path))
    app.post(path, function segmentBatchRequest(c) {
      return receive(c, (body) => segmentBatch(body, batchMaxEvents))
    })
  }
  for (const [path, call] of Object.entries(SEGMENT_CALL_PATHS)) {
    app.openAPIRegistry.registerPath(segmentCallRoute(path, call))
    app.post(path, function segmentCallRequest(c) {
      return receive(c, segmentMessage, call)
    })
  }

  app.openAPIRegistry.registerPath(settingsRoute)
  app.get(SEGMENT_SETTINGS_PATH, function segmentSettingsRequest(c) {
    const writeKey = c.req.param('writeKey')
    if (!keys.open && keys.identify(writeKey) === undefined)
      throw new ApiError(401, 'unauthorized', 'the write key is not a valid key')
    const origin = publicOrigin(c, options.publicUrl)
    // The answer depends on these headers: a cache in front must not give one proxy's answer to another.
    c.header('Vary', 'Host, Forwarded, X-Forwarded-Proto, X-Forwarded-Host')
    return c.json(segmentSettings(writeKey, `${origin.host}/v1`, origin.protocol), 200)
  })
}
