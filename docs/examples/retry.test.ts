import { TestScheduler } from 'rxjs/testing'
import { retryWithBackoff } from 'sluice'
import { expect, it } from 'vitest'

it('retries with doubling waits until the budget would be passed', () => {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected))
  scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
    const insert = cold('-#') // fails 1 ms after each attempt starts
    const retried = insert.pipe(
      // random () => 1 takes the whole jitter, so the waits are exactly 10, 20 and 40 ms;
      // the fourth wait (80 ms) would end past the 100 ms budget, so the error goes through.
      retryWithBackoff({ initialMs: 10, maxMs: 1000, budgetMs: 100, random: () => 1, scheduler }),
    )
    expectObservable(retried).toBe('- 10ms - 20ms - 40ms -#')
    expectSubscriptions(insert.subscriptions).toBe(['^!', '11ms ^!', '32ms ^!', '73ms ^!'])
  })
})
