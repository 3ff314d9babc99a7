import { defer } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { backoffDelay, retryWithBackoff } from '../../src/streams/operators/retry-with-backoff.js'
import { testScheduler } from './helpers.js'

describe('retryWithBackoff', () => {
  it('retries after waits that double, with the jitter it is given', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-#')
      // random () => 1: waits are the full ceilings 10, 20, 40; the next (80) would end past the budget of 100.
      const result = source.pipe(
        retryWithBackoff({ initialMs: 10, maxMs: 1000, budgetMs: 100, random: () => 1, scheduler }),
      )
      expectObservable(result).toBe('- 10ms - 20ms - 40ms -#')
      expectSubscriptions(source.subscriptions).toBe(['^!', '11ms ^!', '32ms ^!', '73ms ^!'])
    })
  })

  it('waits at least half of each ceiling whatever the jitter', () => {
    expect(
      [1, 2, 3, 4].map((attempt) =>
        backoffDelay(attempt, { initialMs: 100, maxMs: 250, random: () => 0 }),
      ),
    ).toEqual([50, 100, 125, 125])
    expect(
      [1, 2, 3].map((attempt) =>
        backoffDelay(attempt, { initialMs: 100, maxMs: 250, random: () => 0.5 }),
      ),
    ).toEqual([75, 150, 188])
  })

  it('does not retry an error the policy calls final', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--#', undefined, new Error('Code: 60. Table does not exist'))
      const result = source.pipe(
        retryWithBackoff({
          initialMs: 10,
          maxMs: 1000,
          budgetMs: 10_000,
          isRetriable: () => false,
          scheduler,
        }),
      )
      expectObservable(result).toBe('--#', undefined, new Error('Code: 60. Table does not exist'))
      expectSubscriptions(source.subscriptions).toBe('^-!')
    })
  })

  it('passes values through and stops retrying once an attempt succeeds', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable }) => {
      let attempt = 0
      const source = defer(() => (++attempt === 1 ? cold('-#') : cold('-(a|)')))
      const result = source.pipe(
        retryWithBackoff({ initialMs: 4, maxMs: 4, budgetMs: 100, random: () => 1, scheduler }),
      )
      expectObservable(result).toBe('- 4ms -(a|)')
    })
  })

  it('reports each retry with its attempt number and wait', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, flush }) => {
      const retries: Array<[number, number]> = []
      cold('-#')
        .pipe(
          retryWithBackoff({
            initialMs: 10,
            maxMs: 15,
            budgetMs: 60,
            random: () => 1,
            scheduler,
            onRetry: (_e, attempt, wait) => retries.push([attempt, wait]),
          }),
        )
        .subscribe({ error: () => {} })
      flush()
      expect(retries).toEqual([
        [1, 10],
        [2, 15],
        [3, 15],
        [4, 15],
      ])
    })
  })
})
