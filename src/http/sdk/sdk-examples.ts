import { errorExamples } from '../examples.js'
import { segmentSettings } from './segment-settings.js'

/**
 * Examples for the drop-in endpoints' part of the OpenAPI document, shaped as the SDKs send them:
 * Swagger UI pre-fills them for "Try it out", and a test sends each one.
 */
export const segmentBatchExample = {
  batch: [
    {
      type: 'track',
      messageId: 'seg-0001',
      event: 'Order Completed',
      userId: 'u-42',
      properties: { total: 42.5, currency: 'EUR' },
      timestamp: '2026-11-26T10:00:00.000Z',
    },
    {
      type: 'identify',
      messageId: 'seg-0002',
      anonymousId: 'anon-7',
      traits: { plan: 'pro' },
      timestamp: '2026-11-26T10:00:01.000Z',
    },
    { type: 'track', messageId: 'seg-0003', userId: 'u-42' },
  ],
  context: { library: { name: 'analytics-node', version: '3.0.0' } },
  sentAt: '2026-11-26T10:00:02.000Z',
}

export const segmentBatchAnswer = {
  success: true,
  accepted: 2,
  duplicates: 0,
  rejected: 1,
  failed: 0,
  results: [
    { index: 0, id: 'seg-0001', status: 'accepted' },
    { index: 1, id: 'seg-0002', status: 'accepted' },
    {
      index: 2,
      id: 'seg-0003',
      status: 'rejected',
      errors: [{ path: 'event', message: 'a track needs an event name' }],
    },
  ],
}

export const segmentCallExamples: Record<string, Record<string, unknown>> = {
  track: { messageId: 'seg-0101', event: 'Signed Up', userId: 'u-43', properties: { plan: 'pro' } },
  identify: { messageId: 'seg-0102', userId: 'u-43', traits: { email: 'a@example.com' } },
  page: {
    messageId: 'seg-0103',
    anonymousId: 'anon-8',
    name: 'Pricing',
    properties: { path: '/pricing' },
  },
  screen: { messageId: 'seg-0104', userId: 'u-43', name: 'Home', properties: { tab: 'feed' } },
  group: { messageId: 'seg-0105', userId: 'u-43', groupId: 'g-1', traits: { name: 'Acme' } },
  alias: { messageId: 'seg-0106', userId: 'u-43', previousId: 'anon-8' },
}

export const posthogBatchExample = {
  api_key: 'phc_example',
  batch: [
    {
      event: '$pageview',
      distinct_id: 'u-42',
      uuid: '0193a3c2-7f00-7000-8000-000000000001',
      properties: { $current_url: 'https://example.com/pricing' },
      timestamp: '2026-11-26T10:00:00.000Z',
      type: 'capture',
    },
  ],
  sent_at: '2026-11-26T10:00:01.000Z',
}

export const posthogBatchAnswer = {
  success: true,
  accepted: 1,
  duplicates: 0,
  rejected: 0,
  failed: 0,
  results: [{ index: 0, id: '0193a3c2-7f00-7000-8000-000000000001', status: 'accepted' }],
}

export const storageFailedAnswer = {
  success: false,
  error: {
    code: 'storage_unavailable',
    message: '1 of 1 messages could not be committed now; send the batch again later',
    requestId: '0193a3c2-7f00-7000-8000-000000000000',
  },
  accepted: 0,
  duplicates: 0,
  rejected: 0,
  failed: 1,
  results: [{ index: 0, id: 'seg-0001', status: 'failed' }],
}

export const sdkUnauthorized = {
  value: {
    error: {
      ...errorExamples.unauthorized.value.error,
      message:
        'a valid write key is needed: Authorization: Basic base64(key:) or Bearer <key>, X-Write-Key or X-API-Key, or writeKey / api_key in the body',
    },
  },
}

export const settingsExample = segmentSettings('wk-example', 'sluice.example.com/v1', 'https')
