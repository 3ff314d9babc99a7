import { z } from '@hono/zod-openapi'
import { EventSchema } from '../streams/event.js'
import { ERROR_CODES } from './errors.js'

/** Wire schemas of API.md §2–3 for the OpenAPI document; the event schema is the pipeline's own. */

export const IssueSchema = z
  .object({ path: z.string().meta({ example: 'properties.items.0.sku' }), message: z.string() })
  .meta({ id: 'Issue' })

export const EventResultSchema = z
  .object({
    index: z.number().int().meta({ example: 0 }),
    id: z.string().optional().meta({ example: 'evt-0001' }),
    status: z.enum(['accepted', 'duplicate', 'rejected', 'failed']),
    conflict: z
      .literal(true)
      .optional()
      .meta({ description: 'on a duplicate: the stored event with this id had other content' }),
    errors: z.array(IssueSchema).optional().meta({ description: 'on a rejected event: why' }),
  })
  .meta({
    id: 'EventResult',
    description: 'One result per event sent, in the order sent (API.md §2)',
  })

export const BatchRequestSchema = z.strictObject({ events: z.array(EventSchema).min(1) }).meta({
  id: 'BatchRequest',
  description:
    'One to BATCH_MAX_EVENTS events. Each event is validated on its own: an invalid one is rejected in its result and never sinks the others.',
})

export const BatchResponseSchema = z
  .object({
    accepted: z.number().int(),
    duplicates: z.number().int(),
    rejected: z.number().int(),
    failed: z.number().int(),
    results: z.array(EventResultSchema),
  })
  .meta({ id: 'BatchResponse' })

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES),
      message: z.string(),
      requestId: z.string(),
      issues: z.array(IssueSchema).optional(),
    }),
  })
  .meta({ id: 'Error' })

export const HealthSchema = z
  .object({ status: z.literal('ok'), requestId: z.string(), uptimeSeconds: z.number() })
  .meta({ id: 'Health' })

export const StoredEventSchema = z
  .object({
    id: z.string(),
    type: z.string(),
    timestamp: z
      .string()
      .meta({ description: 'RFC 3339 with milliseconds', example: '2026-11-26T10:00:00.123Z' }),
    receivedAt: z.string().meta({
      description: 'when Sluice received it: RFC 3339 with milliseconds',
      example: '2026-11-26T10:00:00.200Z',
    }),
    source: z.string().optional(),
    userId: z.string().optional(),
    sessionId: z.string().optional(),
    properties: z.record(z.string(), z.unknown()).optional(),
    transport: z.enum(['ws', 'rest']),
  })
  .meta({ id: 'StoredEvent', description: 'An event as accepted and stored' })

const CheckSchema = z.object({
  status: z.enum(['ok', 'fail']),
  backend: z.string().meta({ example: 'clickhouse server' }),
  latencyMs: z.number().optional(),
  error: z.string().optional(),
})

export const ReadySchema = z
  .object({
    status: z.enum(['ready', 'unavailable', 'stopping']),
    requestId: z.string(),
    checks: z.record(z.string(), CheckSchema),
  })
  .meta({ id: 'Readiness' })
