import type { OpenAPIHono } from '@hono/zod-openapi'
import type { HttpEnv } from '../http-env.js'
import { readJsonBody } from '../json-body.js'
import { posthogEvent } from './posthog-message.js'
import { answerMessages } from './sdk-answer.js'
import { posthogBody, posthogBodyKey } from './sdk-envelope.js'
import { bodyKeyHolder, headerKeyHolder } from './sdk-key.js'
import { posthogRoute } from './sdk-openapi.js'
import { SDK_BODY, type SdkRoutesOptions } from './sdk-routes-options.js'

/** posthog-node sends `/batch/`; posthog-js `/e/` (or `/i/v0/e/`); `/capture/` is the documented one. */
export const POSTHOG_PATHS = ['/batch/', '/capture/', '/e/', '/i/v0/e/'] as const

/**
 * PostHog's endpoints (API.md §9): each request's messages are mapped onto events and submitted to
 * the same pipeline as REST's, in one submission. posthog-js's `?compression=gzip-js` bodies are
 * gzip without a Content-Encoding; the body reader inflates any body that starts as gzip does.
 */
export function posthogRoutes(app: OpenAPIHono<HttpEnv>, options: SdkRoutesOptions): void {
  const { keys, batchMaxEvents, maxBodyBytes } = options
  for (const path of POSTHOG_PATHS) {
    app.openAPIRegistry.registerPath(posthogRoute(path))
    app.post(path, async function posthogRequest(c) {
      const fromHeader = headerKeyHolder(keys, c)
      const body = await readJsonBody(c, maxBodyBytes, SDK_BODY)
      const holder = fromHeader ?? bodyKeyHolder(keys, c, posthogBodyKey(body.value))
      const envelope = posthogBody(body.value, batchMaxEvents)
      const frame = { sentAt: envelope.sentAt, receivedAt: Date.now() }
      const mapped = envelope.messages.map((message) => posthogEvent(message, frame))
      return answerMessages(c, options, mapped, holder, body.bytes)
    })
  }
}
