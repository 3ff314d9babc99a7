import type { ZodType } from 'zod'
import type { ErrorCode } from './errors.js'
import { errorExamples } from './examples.js'
import { ErrorSchema } from './schemas.js'

type Example = { readonly value: unknown; readonly summary?: string }

/** A JSON response for a route definition, with named examples for Swagger UI. */
export function jsonResponse(
  schema: ZodType,
  description: string,
  examples?: Record<string, Example>,
) {
  return { description, content: { 'application/json': { schema, ...(examples && { examples }) } } }
}

const DESCRIPTIONS: Record<number, string> = {
  400: 'The request is malformed (the error code says how)',
  401: 'A valid API key is needed (only when API_KEYS is set)',
  413: 'The body is over MAX_BODY_BYTES (the inflated size, for gzip)',
  408: 'The request head did not arrive within HTTP_HEADERS_TIMEOUT_MS, or the whole request within HTTP_REQUEST_TIMEOUT_MS; the connection is closed',
  409: 'Conflicts with work in progress (the error code says which); try again when it is done',
  415: 'The body is not JSON',
  503: 'Try again after Retry-After seconds',
}

/** Error responses of a route, each with one example per error code it can answer. */
export function errorResponses(
  byStatus: Partial<Record<400 | 401 | 408 | 409 | 413 | 415 | 503, ErrorCode[]>>,
) {
  const responses: Record<string, ReturnType<typeof jsonResponse>> = {}
  for (const [status, codes] of Object.entries(byStatus)) {
    const examples: Record<string, Example> = {}
    for (const code of codes)
      if (code in errorExamples) examples[code] = errorExamples[code as keyof typeof errorExamples]
    const description = `${DESCRIPTIONS[Number(status)]}: ${codes.join(', ')}`
    responses[status] = jsonResponse(ErrorSchema, description, examples)
  }
  return responses
}

/** Either scheme will do; both are open when API_KEYS is unset. */
export const SECURITY: Array<Record<string, string[]>> = [{ bearerAuth: [] }, { apiKeyHeader: [] }]
