import { map } from 'rxjs'
import { describe, it } from 'vitest'
import { batch } from '../../src/streams/operators/batch.js'
import { testScheduler } from './helpers.js'

describe('batch', () => {
  it('emits a batch as soon as it is full, and the rest when the wait ends', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      const source = hot('-abcd-------e----|')
      const expected = '   ---x----y----z---|'
      const result = source.pipe(
        batch({ maxRows: 3, maxWaitMs: 5, scheduler }),
        map((rows) => rows.join('')),
      )
      expectObservable(result).toBe(expected, { x: 'abc', y: 'd', z: 'e' })
    })
  })

  it('never emits an empty batch while the source is idle', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      const source = hot('------------------------------|')
      expectObservable(source.pipe(batch({ maxRows: 3, maxWaitMs: 5, scheduler }))).toBe(
        '------------------------------|',
      )
    })
  })

  it('flushes what it holds when the source completes', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable }) => {
      const source = hot('-ab|')
      expectObservable(
        source.pipe(
          batch({ maxRows: 10, maxWaitMs: 50, scheduler }),
          map((rows) => rows.join('')),
        ),
      ).toBe('---(x|)', { x: 'ab' })
    })
  })

  it('unsubscribes from the source when the consumer does', () => {
    const scheduler = testScheduler()
    scheduler.run(({ hot, expectObservable, expectSubscriptions }) => {
      const source = hot('-abcdef')
      expectObservable(
        source.pipe(
          batch({ maxRows: 2, maxWaitMs: 50, scheduler }),
          map((rows) => rows.join('')),
        ),
        '^----!',
      ).toBe('--x-y', { x: 'ab', y: 'cd' })
      expectSubscriptions(source.subscriptions).toBe('^----!')
    })
  })
})
