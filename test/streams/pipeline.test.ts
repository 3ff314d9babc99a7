import { map, mergeMap, of, throwError, toArray } from 'rxjs'
import type { AcceptedEvent } from '../../src/streams/event.js'
import type { EventSink } from '../../src/streams/ports.js'
import { describe, expect, it } from 'vitest'
import { createMemoryDedupeStore } from '../../src/adapters/memory/memory-dedupe-store.js'
import { createPipeline, type PipelineConfig } from '../../src/streams/pipeline.js'
import { createFakeSink, type FakeSinkOptions } from '../../src/testing/fake-sink.js'
import { claimNow, ids, submitted, testScheduler } from './helpers.js'

const config: PipelineConfig = {
  insertBatchMaxRows: 3,
  insertBatchMaxWaitMs: 5,
  insertConcurrency: 1,
  maxInflightEvents: 6,
  highWater: 5,
  lowWater: 2,
  retry: { initialMs: 10, maxMs: 40, budgetMs: 100 },
}

function setup(
  scheduler: ReturnType<typeof testScheduler>,
  sink: FakeSinkOptions = { latencyMs: 4 },
) {
  let n = 0
  const store = createMemoryDedupeStore({
    ttlSeconds: 3600,
    reservationSeconds: 60,
    maxEntries: 1000,
    now: () => scheduler.now(),
  })
  const fake = createFakeSink({ scheduler, ...sink })
  const pipeline = createPipeline(config, {
    sink: fake,
    store,
    scheduler,
    random: () => 1,
    newId: () => `gen-${++n}`,
  })
  // bufferTime keeps a timer running while its source is open, so a flush would never end:
  // drain the pipeline (which completes the ingress) once the test's story is over.
  scheduler.schedule(() => void pipeline.drain(), 300)
  return { pipeline, sink: fake, store }
}

const ev = (id: string | undefined, type = 'page_view') =>
  id === undefined ? { type } : { id, type }

describe('the whole pipeline under TestScheduler', () => {
  it('answers every event once, in order, after its batch commits', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const { pipeline, sink } = setup(scheduler)
      const requests = hot('-r-s', {
        r: [ev('a'), { type: 'bad type!' }, ev('a'), ev(undefined)],
        s: [ev('a'), ev('b')],
      })
      const answers = requests.pipe(mergeMap((events) => submitted(pipeline, events), 10))
      // [a, a, gen-1] fills a batch at once (3 rows) and commits at 1 + 4; [a, b] waits for the
      // batch timer (frame 6) and commits at 10; the second a is a duplicate of the first.
      expectObservable(answers).toBe('-----r----s', {
        r: 'a:accepted,?:rejected,a:duplicate,gen-1:accepted',
        s: 'a:duplicate,b:accepted',
      })
      flush()
      expect(sink.batches.map((b) => `${b.at}:${ids(b.events)}`)).toEqual(['5:a,gen-1', '10:b'])
    })
  })

  it('settles a batch failed after the retry budget, and accepts the same ids when sent again', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      // Storage is down until frame 100.
      const { pipeline } = setup(scheduler, {
        latencyMs: 1,
        fail: () => (scheduler.now() < 100 ? new Error('ECONNREFUSED') : undefined),
      })
      const answers = hot('-r 150ms s', { r: [ev('a'), ev('a')], s: [ev('a')] }).pipe(
        mergeMap((events) => submitted(pipeline, events), 10),
      )
      // batch at 5: attempts end 6, 17, 38, 79 (next wait 40 passes the budget) → failed at 79;
      // the re-send at 152 is batched at 155 and committed at 156.
      expectObservable(answers).toBe('- 78ms r 76ms s', { r: 'a:failed,a:failed', s: 'a:accepted' })
    })
  })

  it('tells adapters to pause at the high-water mark, refuses past the bound, and resumes at the low-water mark', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      const { pipeline } = setup(scheduler, { latencyMs: 4 })
      const three = [ev('a'), ev('b'), ev('c')]
      const more = [ev('d'), ev('e'), ev('f')]
      const answers = hot('-xyz', { x: three, y: more, z: [ev('g')] }).pipe(
        mergeMap((events) => submitted(pipeline, events), 10),
      )
      expectObservable(pipeline.admission.paused$).toBe('p-q------r', {
        p: false,
        q: true,
        r: false,
      })
      // x commits at 1 + 4 = 5 (3 left in flight: still above the low-water mark 2), y at 9; z (one past 6) is refused.
      expectObservable(answers).toBe('---z-x---y', {
        z: 'overloaded',
        x: 'a:accepted,b:accepted,c:accepted',
        y: 'd:accepted,e:accepted,f:accepted',
      })
    })
  })

  it('publishes accepted events, and only those, on accepted$', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      const { pipeline } = setup(scheduler)
      hot('-r', { r: [ev('a'), { type: '' }, ev('a'), ev('b')] }).subscribe((events) =>
        pipeline.offer(events, 'rest', () => {}),
      )
      expectObservable(pipeline.accepted$.pipe(mergeMap((e) => [e.id], 1))).toBe('-----(ab)', {
        a: 'a',
        b: 'b',
      })
    })
  })

  it('drains: takes nothing more and resolves once every event has settled', async () => {
    const store = createMemoryDedupeStore({
      ttlSeconds: 3600,
      reservationSeconds: 60,
      maxEntries: 1000,
    })
    const sink = createFakeSink({ latencyMs: 20 })
    const pipeline = createPipeline(
      {
        ...config,
        insertBatchMaxWaitMs: 1000,
        maxInflightEvents: 100,
        highWater: undefined,
        lowWater: undefined,
      },
      { sink, store },
    )
    const settled = pipeline.submit([ev('a'), ev('b')], 'rest')!
    const accepted = pipeline.accepted$.pipe(toArray()).toPromise()
    await pipeline.drain()
    expect((await settled).map((r) => r.status)).toEqual(['accepted', 'accepted'])
    expect((await accepted)?.map((e) => e.id)).toEqual(['a', 'b'])
    expect(pipeline.submit([ev('c')], 'rest')).toBeUndefined()
  })

  it('answers a submission of no events at once, with no results', async () => {
    const store = createMemoryDedupeStore({
      ttlSeconds: 3600,
      reservationSeconds: 60,
      maxEntries: 1000,
    })
    const pipeline = createPipeline(
      { ...config, maxInflightEvents: 100, highWater: undefined, lowWater: undefined },
      { sink: createFakeSink(), store },
    )
    expect(await pipeline.submit([], 'rest')).toEqual([])
    expect(pipeline.admission.inflight).toBe(0)
    await pipeline.drain()
  })

  it("contains one client's failure to answer: the other clients of its batch are answered, nothing stays in flight, no restart", async () => {
    const store = createMemoryDedupeStore({
      ttlSeconds: 3600,
      reservationSeconds: 60,
      maxEntries: 1000,
    })
    const failures: unknown[] = []
    const restarts: unknown[] = []
    const telemetry = {
      answerFailed: (_transport: string, error: unknown) => failures.push(error),
      pipelineRestarted: (error: unknown) => restarts.push(error),
    }
    const pipeline = createPipeline(
      {
        ...config,
        insertBatchMaxRows: 10,
        maxInflightEvents: 100,
        highWater: undefined,
        lowWater: undefined,
      },
      { sink: createFakeSink({ latencyMs: 5 }), store, telemetry },
    )
    const answered: string[] = []
    // three clients whose events share one batch; the middle one's answer throws (an ack it cannot write)
    pipeline.offer([ev('x1'), ev('x2')], 'ws', (results) =>
      answered.push(`x:${results.map((r) => r.status).join(',')}`),
    )
    pipeline.offer([ev('y1')], 'ws', () => {
      throw new RangeError('Invalid string length')
    })
    pipeline.offer([ev('z1'), { type: 'bad type' }], 'rest', (results) =>
      answered.push(`z:${results.map((r) => r.status).join(',')}`),
    )
    // and one whose events are rejected at once, before any batch: its answer throws inside offer()
    expect(
      pipeline.offer([{ type: 'bad type' }], 'rest', () => {
        throw new Error('socket gone')
      }),
    ).toBe(true)
    await pipeline.drain()
    expect(answered.sort()).toEqual(['x:accepted,accepted', 'z:accepted,rejected'])
    expect(failures.map((error) => (error as Error).message).sort()).toEqual([
      'Invalid string length',
      'socket gone',
    ])
    expect(restarts).toEqual([])
    expect(pipeline.admission.inflight).toBe(0)
  })
})

describe('what storage is given to write', () => {
  function capture(transforms: Parameters<typeof createPipeline>[1]['transforms'] = []) {
    const scheduler = testScheduler()
    const writes: Array<{
      events: readonly AcceptedEvent[]
      texts: ReadonlyArray<string | undefined> | undefined
    }> = []
    const sink: EventSink = {
      write: (rows) => (
        writes.push({
          events: rows.map((row) => row.event),
          texts: rows.map((row) => row.propertiesText),
        }),
        of(undefined)
      ),
      isRetriable: () => false,
    }
    const store = createMemoryDedupeStore({
      ttlSeconds: 3600,
      reservationSeconds: 60,
      maxEntries: 1000,
      now: () => scheduler.now(),
    })
    scheduler.run(({ flush }) => {
      const pipeline = createPipeline(config, { sink, store, scheduler, transforms })
      pipeline.offer(
        [
          { id: 'a', type: 't', properties: { b: 1, a: { d: 2, c: 3 } } },
          { id: 'n', type: 't' },
        ],
        'rest',
        () => {},
      )
      scheduler.schedule(() => void pipeline.drain(), 50)
      flush()
    })
    return writes
  }

  it('hands storage the properties as validated, serialized once in canonical JSON', () => {
    const [write] = capture()
    expect(write!.events.map((e) => e.id)).toEqual(['a', 'n'])
    expect(write!.texts).toEqual(['{"a":{"c":3,"d":2},"b":1}', undefined])
  })

  it('serializes again what a user transform may have changed, even in place', () => {
    const [write] = capture([
      map((event) => (event.properties && (event.properties.b = 'changed'), event)),
    ])
    expect(write!.texts).toEqual([undefined, undefined])
    expect(write!.events[0]!.properties).toEqual({ b: 'changed', a: { d: 2, c: 3 } })
  })
})

describe('the routing stage', () => {
  it("hands each committed batch to the routes after its insert and before its ack: the insert's time and retries are its own", () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, cold, expectObservable, flush }) => {
      const store = createMemoryDedupeStore({
        ttlSeconds: 3600,
        reservationSeconds: 60,
        maxEntries: 1000,
        now: () => scheduler.now(),
      })
      // the first write fails after 4 ms, the second (after a 10 ms wait) takes the batch
      const sink = createFakeSink({
        scheduler,
        latencyMs: 4,
        fail: (_events, attempt) => (attempt === 1 ? new Error('ECONNRESET') : undefined),
      })
      const handed: string[] = []
      const routes = {
        enqueue: (events: readonly AcceptedEvent[]) => (
          handed.push(`${scheduler.now()}:${ids(events)}`),
          cold<void>('-------|')
        ),
      }
      const inserts: string[] = []
      const telemetry = {
        batchCommitted: (rows: number, durationMs: number) =>
          inserts.push(`${rows} rows in ${durationMs} ms`),
      }
      const pipeline = createPipeline(config, {
        sink,
        store,
        scheduler,
        routes,
        telemetry,
        random: () => 1,
      })
      scheduler.schedule(() => void pipeline.drain(), 300)
      const answers = hot('-r', { r: [ev('a'), ev('b')] }).pipe(
        mergeMap((events) => submitted(pipeline, events), 10),
      )
      // batch at 5; writes 5–9 (failed) and 19–23; handed off 23–30; acked at 30
      expectObservable(answers).toBe('- 29ms r', { r: 'a:accepted,b:accepted' })
      flush()
      expect(handed).toEqual(['23:a,b'])
      expect(inserts).toEqual(['2 rows in 18 ms'])
    })
  })

  it('fails a batch whose hand-off fails, and releases its ids: a re-send is accepted and handed off, not told duplicate', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const store = createMemoryDedupeStore({
        ttlSeconds: 3600,
        reservationSeconds: 60,
        maxEntries: 1000,
        now: () => scheduler.now(),
      })
      const failures: number[] = []
      const routes = { enqueue: () => throwError(() => new Error('outbox down')) }
      const pipeline = createPipeline(config, {
        sink: createFakeSink({ scheduler, latencyMs: 4 }),
        store,
        scheduler,
        routes,
        telemetry: { handOffFailed: (events: number) => failures.push(events) },
      })
      scheduler.schedule(() => void pipeline.drain(), 300)
      const answers = hot('-r', { r: [ev('a')] }).pipe(
        mergeMap((events) => submitted(pipeline, events), 10),
      )
      expectObservable(answers).toBe('- 8ms r', { r: 'a:failed' })
      flush()
      expect(failures).toEqual([1])
      expect(claimNow(store, [{ id: 'a', fingerprint: 'x' }])).toEqual(['new'])
    })
  })
})
