import { describe, expect, it } from 'vitest'
import { createMemoryDedupeStore } from '../../src/adapters/memory/memory-dedupe-store.js'
import { createHttpApp } from '../../src/http/app.js'
import { createLogger } from '../../src/telemetry/logger.js'
import { createPipeline, type Pipeline } from '../../src/streams/pipeline.js'
import type { EventSink } from '../../src/streams/ports.js'

// The answers of the HTTP layer when what stands behind it fails in ways a test cannot get out of a
// healthy server: storage that cannot be read, and a bug that throws.
const unusedSink: EventSink = {
  write: () => Promise.reject(new Error('not used')),
  isRetriable: () => false,
}
const pipeline = createPipeline(
  {
    insertBatchMaxRows: 10,
    insertBatchMaxWaitMs: 5,
    insertConcurrency: 1,
    maxInflightEvents: 100,
    retry: { initialMs: 1, maxMs: 1, budgetMs: 0 },
  },
  {
    sink: unusedSink,
    store: createMemoryDedupeStore({ ttlSeconds: 1, reservationSeconds: 1, maxEntries: 1 }),
  },
)

describe('failures behind the REST surface', () => {
  it('answers GET /v1/events with 503 storage_unavailable and Retry-After when storage cannot be read', async () => {
    const lines: string[] = []
    const app = createHttpApp(
      { batchMaxEvents: 10, maxBodyBytes: 1024 },
      {
        pipeline,
        logger: createLogger('warn', { write: (line: string) => void lines.push(line) }),
        reader: { recent: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:8123')) },
      },
    )
    const response = await app.request('/v1/events', { headers: { 'x-request-id': 'read-1' } })
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toBe('5')
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
      'storage_unavailable',
    )
    expect(lines.join('')).toContain('ECONNREFUSED')
    expect(lines.join('')).toContain('"requestId":"read-1"')
  })

  it('answers an unexpected error with 500 internal in the error shape, logs it once with the request id, and shows no stack', async () => {
    const lines: string[] = []
    const broken: Pipeline = {
      ...pipeline,
      submit: () => {
        throw new TypeError('a bug deep inside')
      },
    }
    const app = createHttpApp(
      { batchMaxEvents: 10, maxBodyBytes: 1024 },
      {
        pipeline: broken,
        logger: createLogger('info', { write: (line: string) => void lines.push(line) }),
      },
    )
    const response = await app.request('/v1/events', {
      method: 'POST',
      body: '{"type":"x"}',
      headers: { 'content-type': 'application/json', 'x-request-id': 'bug-1' },
    })
    expect(response.status).toBe(500)
    const text = await response.text()
    expect(JSON.parse(text)).toEqual({
      error: { code: 'internal', message: 'internal error', requestId: 'bug-1' },
    })
    expect(text).not.toMatch(/deep inside|at .*\.ts/)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('a bug deep inside')
    expect(lines[0]).toContain('"requestId":"bug-1"')
  })
})
