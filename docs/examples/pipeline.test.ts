import { mergeMap, Observable } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { createPipeline, type Pipeline } from 'sluice'
import { createFakeSink, createMemoryDedupeStore } from 'sluice/testing'
import { expect, it } from 'vitest'

/** One request as an observable that emits its results once they are all settled. */
function send(pipeline: Pipeline, events: unknown[]): Observable<string> {
  return new Observable((subscriber) => {
    pipeline.offer(events, 'rest', (results) => {
      subscriber.next(results.map((r) => `${r.id ?? '?'}:${r.status}`).join(' '))
      subscriber.complete()
    })
  })
}

it('runs the whole chain on virtual time: validate, batch, dedupe, commit with a retry, ack', () => {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected))
  scheduler.run(({ hot, expectObservable, flush }) => {
    // The first insert fails; the retry (after 10 ms) commits. Each insert takes 2 ms.
    const sink = createFakeSink({
      scheduler,
      latencyMs: 2,
      fail: (_rows, attempt) => (attempt === 1 ? new Error('ECONNRESET') : undefined),
    })
    const store = createMemoryDedupeStore({
      ttlSeconds: 3600,
      reservationSeconds: 30,
      maxEntries: 1000,
      now: () => scheduler.now(),
    })
    const pipeline = createPipeline(
      {
        insertBatchMaxRows: 100,
        insertBatchMaxWaitMs: 5,
        insertConcurrency: 2,
        maxInflightEvents: 1000,
        retry: { initialMs: 10, maxMs: 100, budgetMs: 1000 },
      },
      { sink, store, scheduler, random: () => 1 },
    )
    // bufferTime keeps a timer while its source is open: drain the pipeline to let flush() end.
    scheduler.schedule(() => void pipeline.drain(), 100)

    const requests = hot('-r', {
      r: [
        { id: 'a', type: 'page_view' },
        { id: 'b', type: 'no spaces!' },
        { id: 'a', type: 'page_view' },
      ],
    })
    const answers = requests.pipe(mergeMap((events) => send(pipeline, events), 4))

    // batch closes at 5; insert fails at 7; waits 10; commits at 19; then the answer goes out.
    expectObservable(answers).toBe('- 18ms r', { r: 'a:accepted b:rejected a:duplicate' })
    flush()
    expect(sink.batches.map((b) => [b.at, b.events.map((e) => e.id)])).toEqual([[19, ['a']]])
  })
})
