import { REQUEST_TIMEOUT_MESSAGE } from '../wire/slow-client-timeouts.js'

/**
 * Examples for the OpenAPI document: what Swagger UI pre-fills for "Try it out" and shows beside
 * each response. They are real: a test sends each request example and checks the documented answer.
 */
const requestId = '0193a3c2-7f00-7000-8000-000000000000'

export const validEvent = {
  id: 'evt-0001',
  type: 'page_view',
  timestamp: '2026-11-26T10:00:00.123Z',
  source: 'web',
  userId: 'u-42',
  sessionId: 's-7',
  properties: { path: '/pricing', referrer: 'https://example.com' },
}

export const mixedBatch = {
  events: [
    { id: 'evt-1001', type: 'checkout.completed', properties: { total: 42.5, currency: 'EUR' } },
    // Invalid in a way no JSON Schema can say (there is no 30 February), so the example still fits BatchRequest.
    {
      id: 'evt-1002',
      type: 'page_view',
      timestamp: '2026-02-30T10:00:00Z',
      properties: { path: '/' },
    },
    { id: 'evt-1001', type: 'checkout.completed', properties: { total: 42.5, currency: 'EUR' } },
    { type: 'signup', userId: 'u-43' },
  ],
}

export const mixedBatchResponse = {
  accepted: 2,
  duplicates: 1,
  rejected: 1,
  failed: 0,
  results: [
    { index: 0, id: 'evt-1001', status: 'accepted' },
    {
      index: 1,
      id: 'evt-1002',
      status: 'rejected',
      errors: [
        {
          path: 'timestamp',
          message:
            'must be an RFC 3339 date-time (e.g. 2026-11-26T10:00:00.123Z) from 1970 up to 2100',
        },
      ],
    },
    { index: 2, id: 'evt-1001', status: 'duplicate' },
    { index: 3, id: '0193a3c2-8000-7000-8000-000000000001', status: 'accepted' },
  ],
}

export const storedEvents = {
  events: [{ ...validEvent, receivedAt: '2026-11-26T10:00:00.200Z', transport: 'rest' }],
}

const error = (
  code: string,
  message: string,
  issues?: Array<{ path: string; message: string }>,
) => ({
  value: { error: { code, message, requestId, ...(issues && { issues }) } },
})

export const errorExamples = {
  invalid_json: error('invalid_json', 'malformed JSON at position 17'),
  invalid_event: error('invalid_event', 'the event is invalid', [
    {
      path: 'timestamp',
      message: 'must be an RFC 3339 date-time (e.g. 2026-11-26T10:00:00.123Z) from 1970 up to 2100',
    },
  ]),
  invalid_batch: error('invalid_batch', 'unknown key "event"', [
    { path: 'event', message: 'unknown key' },
  ]),
  batch_too_large: error('batch_too_large', 'a batch holds at most 1000 events; this one has 1200'),
  invalid_query: error('invalid_query', 'the query is invalid', [
    { path: 'limit', message: 'Too big: expected number to be <=1000' },
  ]),
  invalid_request: error('invalid_request', 'the replay request is invalid', [
    { path: 'route', message: 'Invalid input: expected string, received undefined' },
  ]),
  unauthorized: error(
    'unauthorized',
    'a valid API key is needed: Authorization: Bearer <key> or X-API-Key: <key>',
  ),
  request_timeout: error('request_timeout', REQUEST_TIMEOUT_MESSAGE),
  payload_too_large: error(
    'payload_too_large',
    'the request body is over the limit of 5242880 bytes',
  ),
  unsupported_media_type: error(
    'unsupported_media_type',
    'content type "text/plain" is not JSON; send application/json',
  ),
  overloaded: error('overloaded', 'too many events in flight; retry shortly'),
  storage_unavailable: error(
    'storage_unavailable',
    'the event could not be committed now; send it again later',
  ),
  replay_in_progress: error(
    'replay_in_progress',
    'a replay of route "analytics" is in progress; try again when it has finished',
  ),
}
