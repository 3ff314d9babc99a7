import { describe, expect, it } from 'vitest'
import { createMemoryDedupeStore } from '../../src/adapters/memory/memory-dedupe-store.js'
import { createPipeline } from '../../src/streams/pipeline.js'
import { ISSUE_CHARS_PER_SUBMISSION, Submission } from '../../src/streams/submission.js'
import { createFakeSink } from '../../src/testing/fake-sink.js'
import { collected } from '../support/gc.js'

describe('submission', () => {
  it('hands each raw event out once, to its envelope, and keeps none itself', () => {
    const raw = [{ type: 'a' }, { type: 'b' }]
    const submission = new Submission(raw, 'ws', 0, () => {})
    expect(submission.envelopes().map((envelope) => envelope.raw)).toEqual(raw)
    expect(submission.size).toBe(2)
    expect(submission.envelopes()).toEqual([])
    expect(Object.values(submission)).not.toContain(raw)
  })

  it('lets a raw event be collected once validated, while its frame is still in flight; a rejected event still reports the id it was sent with', async () => {
    const sink = createFakeSink({ latencyMs: 300 })
    const store = createMemoryDedupeStore({
      ttlSeconds: 60,
      reservationSeconds: 60,
      maxEntries: 100,
    })
    const pipeline = createPipeline(
      {
        insertBatchMaxRows: 10,
        insertBatchMaxWaitMs: 1,
        insertConcurrency: 1,
        maxInflightEvents: 10,
        retry: { initialMs: 1, maxMs: 1, budgetMs: 10 },
      },
      { sink, store },
    )
    // Made in a function of their own, so that only the WeakRefs point at the raw events afterwards.
    const offer = () => {
      const valid = { id: 'kept-id', type: 'page_view', properties: { path: '/' } }
      const invalid = { id: 'bad-id', type: 'not a type!' }
      return {
        refs: [new WeakRef(valid), new WeakRef(invalid)],
        settled: pipeline.submit([valid, invalid], 'ws')!,
      }
    }
    const { refs, settled } = offer()

    expect(await collected(refs[0]!)).toBe(true)
    expect(await collected(refs[1]!)).toBe(true)
    expect(pipeline.admission.inflight).toBe(1) // the valid one still waits for its commit

    const results = await settled
    expect(results).toMatchObject([
      { index: 0, id: 'kept-id', status: 'accepted' },
      { index: 1, id: 'bad-id', status: 'rejected' },
    ])
    await pipeline.drain()
  })

  it('answers a request or frame with its issues in full up to ISSUE_CHARS_PER_SUBMISSION, then each rejected event with its first issue and how many more', async () => {
    const pipeline = createPipeline(
      {
        insertBatchMaxRows: 10,
        insertBatchMaxWaitMs: 1,
        insertConcurrency: 1,
        maxInflightEvents: 1000,
        retry: { initialMs: 1, maxMs: 1, budgetMs: 10 },
      },
      {
        sink: createFakeSink({ latencyMs: 1 }),
        store: createMemoryDedupeStore({ ttlSeconds: 60, reservationSeconds: 60, maxEntries: 10 }),
      },
    )
    // 25 forbidden keys under a 240-character key: 20 issues listed (the last counting 6 more), ~6 KB
    const long = 'k'.repeat(240)
    const costly = {
      type: 'not a type!',
      properties: { [long]: Array.from({ length: 25 }, () => ({ constructor: 0 })) },
    }
    const results = (await pipeline.submit(
      Array.from({ length: 100 }, () => costly),
      'ws',
    ))!
    const chars = (issues: ReadonlyArray<{ path: string; message: string }>) =>
      issues.reduce((sum, issue) => sum + issue.path.length + issue.message.length, 0)
    const full = results.filter((result) => result.errors!.length === 20)
    const cut = results.slice(full.length)
    expect(full.length).toBeGreaterThan(0)
    expect(full.map((result) => chars(result.errors!)).reduce((a, b) => a + b)).toBeLessThanOrEqual(
      ISSUE_CHARS_PER_SUBMISSION,
    )
    expect(full[0]!.errors!.at(-1)).toEqual({ path: '', message: 'and 7 more issues' })
    expect(cut.length).toBeGreaterThan(80)
    for (const result of cut) {
      expect(result.status).toBe('rejected')
      expect(result.errors).toEqual([
        full[0]!.errors![0],
        { path: '', message: 'and 25 more issues' },
      ])
    }
    await pipeline.drain()
  })
})
