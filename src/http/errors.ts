import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { Issue } from '../streams/outcome.js'

/**
 * Every error code the REST port answers with (API.md §3), in one shape for all of them. The
 * WebSocket codes (invalid_frame, too_many_events, subscriber_too_slow, and those of a refused
 * upgrade) belong to the WebSocket source.
 */
export const ERROR_CODES = [
  'invalid_json',
  'invalid_event',
  'invalid_batch',
  'batch_too_large',
  'invalid_query',
  'invalid_request',
  'payload_too_large',
  'unsupported_media_type',
  'unauthorized',
  'not_found',
  'method_not_allowed',
  'request_timeout',
  'overloaded',
  'storage_unavailable',
  'replay_in_progress',
  'internal',
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

/** An answer that ends a request early; thrown by helpers, turned into the error shape by the app. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly options: {
      readonly issues?: readonly Issue[]
      readonly retryAfterSeconds?: number
      readonly cause?: unknown
    } = {},
  ) {
    super(message, { cause: options.cause })
  }
}

export function errorResponse(c: Context, error: ApiError): Response {
  const requestId = c.get('requestId') as string
  if (error.options.retryAfterSeconds !== undefined)
    c.header('Retry-After', String(error.options.retryAfterSeconds))
  const issues = error.options.issues
  return c.json(
    { error: { code: error.code, message: error.message, requestId, ...(issues && { issues }) } },
    error.status,
  )
}
