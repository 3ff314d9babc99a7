import type { Context } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { Issue } from '../streams/outcome.js'

/** Every error code of API.md §3; one shape for all of them. */
export type ErrorCode =
  | 'invalid_json'
  | 'invalid_event'
  | 'invalid_batch'
  | 'batch_too_large'
  | 'invalid_query'
  | 'invalid_request'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'unauthorized'
  | 'not_found'
  | 'method_not_allowed'
  | 'overloaded'
  | 'storage_unavailable'
  | 'internal'

/** An answer that ends a request early; thrown by helpers, turned into the error shape by the app. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    message: string,
    readonly options: { readonly issues?: readonly Issue[]; readonly retryAfterSeconds?: number; readonly cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause })
  }
}

export function errorResponse(c: Context, error: ApiError): Response {
  const requestId = c.get('requestId') as string
  if (error.options.retryAfterSeconds !== undefined) c.header('Retry-After', String(error.options.retryAfterSeconds))
  const issues = error.options.issues
  return c.json({ error: { code: error.code, message: error.message, requestId, ...(issues && { issues }) } }, error.status)
}
