import { describe, expect, it } from 'vitest'
import { createMemoryDedupeStore } from '../../src/adapters/memory/memory-dedupe-store.js'
import { retainedBytes } from '../../src/streams/admission.js'
import { createPipeline } from '../../src/streams/pipeline.js'
import { createFakeSink } from '../../src/testing/fake-sink.js'

function bytesBoundPipeline(maxInflightBytes: number) {
  const sink = createFakeSink({ latencyMs: 200 })
  const store = createMemoryDedupeStore({ ttlSeconds: 60, reservationSeconds: 60, maxEntries: 100 })
  return createPipeline(
    {
      insertBatchMaxRows: 10,
      insertBatchMaxWaitMs: 1,
      insertConcurrency: 1,
      maxInflightEvents: 1000,
      maxInflightBytes,
      retry: { initialMs: 1, maxMs: 1, budgetMs: 10 },
    },
    { sink, store },
  )
}

describe('admission by bytes, through the pipeline', () => {
  it('charges a submission by its bytes, releases each event’s share as it settles, and ends at zero', async () => {
    const pipeline = bytesBoundPipeline(1024 * 1024)
    const share = retainedBytes(3000, 2)
    const settled = pipeline.submit(
      [
        { id: 'ok', type: 'page_view' },
        { id: 'bad', type: 'not a type!' },
      ],
      'rest',
      3000,
    )!
    // The invalid event settles while validated, at once; the valid one waits for its commit.
    expect(pipeline.admission).toMatchObject({ inflight: 1, inflightBytes: share })
    expect(await settled).toMatchObject([{ status: 'accepted' }, { status: 'rejected' }])
    expect(pipeline.admission).toMatchObject({ inflight: 0, inflightBytes: 0 })
    await pipeline.drain()
  })

  it('refuses a submission that would pass the byte bound though the event bound has room, and takes it once room comes', async () => {
    const pipeline = bytesBoundPipeline(retainedBytes(40_000, 1) * 2)
    const first = pipeline.submit([{ id: 'a', type: 'page_view' }], 'ws', 40_000)!
    const second = pipeline.submit([{ id: 'b', type: 'page_view' }], 'ws', 40_000)!
    expect(pipeline.submit([{ id: 'c', type: 'page_view' }], 'ws', 40_000)).toBeUndefined()
    expect(pipeline.admission.inflight).toBe(2)
    await Promise.all([first, second])
    expect(await pipeline.submit([{ id: 'c', type: 'page_view' }], 'ws', 40_000)).toMatchObject([
      { status: 'accepted' },
    ])
    await pipeline.drain()
  })
})
