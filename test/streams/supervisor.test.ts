import { mergeMap } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { createMemoryDedupeStore } from '../../src/adapters/memory/memory-dedupe-store.js'
import type { EventTransform } from '../../src/streams/operators/transform.js'
import { createPipeline, type PipelineConfig } from '../../src/streams/pipeline.js'
import { createFakeSink } from '../../src/testing/fake-sink.js'
import { withLatency } from '../../src/testing/latency-dedupe-store.js'
import { claimNow, submitted, testScheduler } from './helpers.js'

const config: PipelineConfig = {
  insertBatchMaxRows: 3,
  insertBatchMaxWaitMs: 5,
  insertConcurrency: 1,
  maxInflightEvents: 10,
  retry: { initialMs: 10, maxMs: 40, budgetMs: 100 },
}

/**
 * A user transform with a bug the transform stage cannot contain: it throws while the stage builds
 * an event's chain (not inside the chain), on events of type `crash`. The pipeline's own operator
 * then errors, and the supervisor restarts the chain.
 */
const throwsOnCrash: EventTransform = (source) => {
  let type: string | undefined
  source.subscribe((event) => (type = event.type)).unsubscribe()
  if (type === 'crash') throw new Error('a bug in a transform')
  return source
}

function setup(scheduler: ReturnType<typeof testScheduler>) {
  const store = createMemoryDedupeStore({
    ttlSeconds: 3600,
    reservationSeconds: 60,
    maxEntries: 1000,
    now: () => scheduler.now(),
  })
  const sink = createFakeSink({ scheduler, latencyMs: 10 })
  const restarts: Array<[string, number | undefined]> = []
  const telemetry = {
    pipelineRestarted: (error: unknown, stranded?: number) =>
      restarts.push([(error as Error).message, stranded]),
  }
  const pipeline = createPipeline(config, {
    sink,
    store,
    scheduler,
    transforms: [throwsOnCrash],
    telemetry,
  })
  scheduler.schedule(() => void pipeline.drain(), 300)
  return { pipeline, sink, store, restarts }
}

describe('the pipeline supervisor', () => {
  it('answers every event the dead chain held failed, gives back their admission and claims, and takes a re-send at once', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const { pipeline, sink, store, restarts } = setup(scheduler)
      // a and b are batched at 5 and being written (5–15) when the crash event kills the chain at 8;
      // the re-send of a at 12 goes through the new chain (its batches close at 13, 18, …): written at 23.
      const requests = hot('-r------x---s', {
        r: [
          { id: 'a', type: 't' },
          { id: 'b', type: 't' },
        ],
        x: [{ id: 'c', type: 'crash' }],
        s: [{ id: 'a', type: 't' }],
      })
      const answers = requests.pipe(mergeMap((events) => submitted(pipeline, events), 10))
      expectObservable(answers).toBe('--------(rx) 11ms s', {
        r: 'a:failed,b:failed',
        x: 'c:failed',
        s: 'a:accepted',
      })
      scheduler.schedule(() => {
        expect(pipeline.admission.inflight).toBe(0)
        expect(claimNow(store, [{ id: 'b', fingerprint: 'unused' }])).toEqual(['new'])
      }, 9)
      flush()
      expect(restarts).toEqual([['a bug in a transform', 3]])
      expect(
        sink.batches.map((batch) => `${batch.at}:${batch.events.map((e) => e.id).join(',')}`),
      ).toEqual(['23:a'])
      expect(pipeline.admission.inflight).toBe(0)
    })
  })

  it('answers accepted, not failed, the events storage had already taken when the chain died', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      const memory = createMemoryDedupeStore({
        ttlSeconds: 3600,
        reservationSeconds: 60,
        maxEntries: 1000,
        now: () => scheduler.now(),
      })
      // claims are quick; the confirm after the commit takes 10 ms (a slow Redis)
      const store = withLatency(memory, {
        ms: (operation) => (operation === 'confirm' ? 10 : 0),
        scheduler,
      })
      const pipeline = createPipeline(config, {
        sink: createFakeSink({ scheduler, latencyMs: 10 }),
        store,
        scheduler,
        transforms: [throwsOnCrash],
      })
      scheduler.schedule(() => void pipeline.drain(), 300)
      // a and b: batched at 6, written 6–16, confirming 16–26 when the crash kills the chain at 18
      const requests = hot('-r 16ms x', {
        r: [
          { id: 'a', type: 't' },
          { id: 'b', type: 't' },
        ],
        x: [{ id: 'c', type: 'crash' }],
      })
      expectObservable(requests.pipe(mergeMap((events) => submitted(pipeline, events), 10))).toBe(
        '-- 16ms (rx)',
        { r: 'a:accepted,b:accepted', x: 'c:failed' },
      )
    })
  })

  it('keeps the events the dead chain had already settled as they were', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      const { pipeline } = setup(scheduler)
      // r's first event is rejected at once; only the second is still in flight when the chain dies.
      const requests = hot('-r-x', {
        r: [{ type: 'bad type!' }, { id: 'b', type: 't' }],
        x: [{ id: 'c', type: 'crash' }],
      })
      expectObservable(requests.pipe(mergeMap((events) => submitted(pipeline, events), 10))).toBe(
        '---(rx)',
        { r: '?:rejected,b:failed', x: 'c:failed' },
      )
    })
  })
})
