import { map } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { batch } from 'sluice'
import { expect, it } from 'vitest'

it('batches by size, and by time when the batch does not fill', () => {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected))
  scheduler.run(({ hot, expectObservable }) => {
    const rows = hot('  -abcd-------e----|')
    const expected = '  ---x----y----z---|'
    const batches = rows.pipe(
      batch({ maxRows: 3, maxWaitMs: 5, scheduler }),
      map((batch) => batch.join('')),
    )
    // [a,b,c] fills the batch at frame 3; [d] waits for the timer of the next batch (3 + 5);
    // [e] likewise; the empty batch at completion is never emitted.
    expectObservable(batches).toBe(expected, { x: 'abc', y: 'd', z: 'e' })
  })
})
