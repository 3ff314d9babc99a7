import { defer } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { finalError, retriableError } from '../../../src/streams/routing/delivery-error.js'
import { retryDelivery, RETRY_AFTER_MAX_MS } from '../../../src/streams/routing/retry-delivery.js'
import { testScheduler } from '../helpers.js'

describe('retryDelivery', () => {
  it('waits the backoff, or the Retry-After an error carries, and lets the last attempt’s error through (the JSDoc example)', () => {
    const scheduler = testScheduler()
    scheduler.run(({ expectObservable }) => {
      let attempt = 0
      const errors = [
        retriableError('HTTP 502'),
        retriableError('HTTP 429', { retryAfterMs: 50 }),
        retriableError('HTTP 502'),
      ]
      const source = defer(() => {
        const error = errors[attempt++]!
        return scheduler.createColdObservable('-#', undefined, error)
      })
      expectObservable(
        source.pipe(
          retryDelivery({ maxAttempts: 3, initialMs: 10, maxMs: 1000, random: () => 1, scheduler }),
        ),
      ).toBe('- 10ms - 50ms -#', undefined, errors[2])
    })
  })

  it('does not retry a final error', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('--#', undefined, finalError('HTTP 404'))
      expectObservable(
        source.pipe(retryDelivery({ maxAttempts: 8, initialMs: 10, maxMs: 1000, scheduler })),
      ).toBe('--#', undefined, finalError('HTTP 404'))
      expectSubscriptions(source.subscriptions).toBe('^-!')
    })
  })

  it('retries an error no adapter classified, and caps an absurd Retry-After', () => {
    const scheduler = testScheduler()
    scheduler.run(({ cold, flush }) => {
      const waits: number[] = []
      cold('#', undefined, new Error('boom'))
        .pipe(
          retryDelivery({
            maxAttempts: 2,
            initialMs: 10,
            maxMs: 10,
            random: () => 1,
            scheduler,
            onRetry: (_e, _a, wait) => waits.push(wait),
          }),
        )
        .subscribe({ error: () => {} })
      cold('#', undefined, retriableError('HTTP 503', { retryAfterMs: 86_400_000 }))
        .pipe(
          retryDelivery({
            maxAttempts: 2,
            initialMs: 10,
            maxMs: 10,
            scheduler,
            onRetry: (_e, _a, wait) => waits.push(wait),
          }),
        )
        .subscribe({ error: () => {} })
      flush()
      expect(waits).toEqual([10, RETRY_AFTER_MAX_MS])
    })
  })
})
