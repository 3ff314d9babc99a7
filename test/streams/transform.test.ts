import { delay, filter, map, mergeMap } from 'rxjs'
import { describe, expect, it } from 'vitest'
import type { AcceptedEvent } from '../../src/streams/event.js'
import { transform, type EventTransform } from '../../src/streams/operators/transform.js'
import { envelopes, ids, testScheduler } from './helpers.js'

const outcomes = (settled: ReturnType<typeof envelopes>['settled']) =>
  settled.map((s) => `${s.id}:${s.status}`)

describe('transform', () => {
  it('passes each event through the transforms in order, and lets it go on in place of the original', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      const { make } = envelopes(() => scheduler.now())
      const redact: EventTransform = map((e) => ({ ...e, properties: { redacted: true } }))
      const retype: EventTransform = map((e) => ({ ...e, type: `${e.type}.v2` }))
      const result = hot('-a-b-|', { a: make('a'), b: make('b') }).pipe(
        transform({ transforms: [redact, retype], concurrency: 4 }),
        map(
          (envelope) =>
            `${envelope.event.id}:${envelope.event.type}:${JSON.stringify(envelope.event.properties)}`,
        ),
      )
      expectObservable(result).toBe('-a-b-|', {
        a: 'a:page_view.v2:{"redacted":true}',
        b: 'b:page_view.v2:{"redacted":true}',
      })
    })
  })

  it('rejects an event a transform drops, throws on, or makes invalid — and goes on with the next', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, flush }) => {
      const { make, settled } = envelopes(() => scheduler.now())
      const steps: EventTransform[] = [
        filter((e) => e.id !== 'dropped'),
        map((e) => {
          if (e.id === 'throws') throw new Error('lookup failed')
          return e.id === 'retyped'
            ? { ...e, type: 'not valid!' }
            : e.id === 'renamed'
              ? { ...e, id: 'other' }
              : e
        }),
      ]
      const source = hot('-abcdef|', {
        a: make('ok'),
        b: make('dropped'),
        c: make('throws'),
        d: make('retyped'),
        e: make('renamed'),
        f: make('last'),
      })
      expectObservable(
        source.pipe(
          transform({ transforms: steps, concurrency: 4 }),
          map((e) => e.event.id),
        ),
      ).toBe('-a----f|', { a: 'ok', f: 'last' })
      flush()
      expect(outcomes(settled)).toEqual([
        'dropped:rejected',
        'throws:rejected',
        'retyped:rejected',
        'renamed:rejected',
      ])
    })
  })

  it('waits for an asynchronous transform, at most `concurrency` events at a time', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      const { make } = envelopes(() => scheduler.now())
      const lookup: EventTransform = mergeMap(
        (e: AcceptedEvent) => [e].map((x) => ({ ...x, userId: 'looked-up' })),
        1,
      )
      const slow: EventTransform = delay(3, scheduler)
      const result = hot('-abc|', { a: make('a'), b: make('b'), c: make('c') }).pipe(
        transform({ transforms: [lookup, slow], concurrency: 2 }),
        map((e) => `${e.event.id}:${e.event.userId}`),
      )
      // a and b run together; c starts when a is done
      expectObservable(result).toBe('----ab-(c|)', {
        a: 'a:looked-up',
        b: 'b:looked-up',
        c: 'c:looked-up',
      })
    })
  })

  it('is the identity when there are no transforms', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      const { make } = envelopes(() => scheduler.now())
      expectObservable(
        hot('-a|', { a: make('a') }).pipe(
          transform({ transforms: [], concurrency: 1 }),
          map((e) => ids([e])),
        ),
      ).toBe('-a|', { a: 'a' })
    })
  })
})
