import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { createMemoryDedupeStore } from '../../src/adapters/memory-dedupe-store.js'
import { createHttpApp } from '../../src/http/app.js'
import { createPipeline } from '../../src/streams/pipeline.js'
import type { EventSink } from '../../src/streams/ports.js'

// The document is generated from the route definitions and the pipeline's own zod schemas; no
// request is made, so this sink is never written to.
const unused: EventSink = { write: () => Promise.reject(new Error('not used')), isRetriable: () => false }

describe('the OpenAPI document', () => {
  const pipeline = createPipeline(
    { insertBatchMaxRows: 10, insertBatchMaxWaitMs: 10, insertConcurrency: 1, maxInflightEvents: 100, retry: { initialMs: 1, maxMs: 1, budgetMs: 0 } },
    { sink: unused, store: createMemoryDedupeStore({ ttlSeconds: 1, reservationSeconds: 1, maxEntries: 1 }) },
  )
  const app = createHttpApp({ batchMaxEvents: 1000, maxBodyBytes: 1 << 20 }, { pipeline, logger: pino({ level: 'silent' }) })
  const document = app.getOpenAPI31Document({ openapi: '3.1.0', info: { title: 'Sluice', version: 'test' } })

  it('lists the event routes and /health with their responses', () => {
    expect(Object.keys(document.paths ?? {}).sort()).toEqual(['/health', '/v1/events', '/v1/events/batch'])
    expect(Object.keys(document.paths!['/v1/events']!.post!.responses!)).toEqual(['202', '400', '401', '413', '415', '503'])
  })

  it('describes the event with the pipeline schema: every field of API.md §1 and no other', () => {
    const event = document.components!.schemas!.Event as { properties: Record<string, unknown>; required: string[]; additionalProperties: boolean }
    expect(Object.keys(event.properties).sort()).toEqual(['id', 'properties', 'sessionId', 'source', 'timestamp', 'type', 'userId'])
    expect(event.required).toEqual(['type'])
    expect(event.additionalProperties).toBe(false)
    expect(event.properties.type).toMatchObject({ type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9_.:/-]*$' })
  })
})
