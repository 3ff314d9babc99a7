import { from, lastValueFrom, type ObservableInput } from 'rxjs'
import { describe, expect, it } from 'vitest'
import type { AcceptedEvent } from '../../src/streams/event.js'
import type { DeadLetterStore, StoredDeadLetter } from '../../src/streams/routing/ports.js'
import { until } from '../support/wait.js'
import { value } from '../support/observables.js'

const done = (input: ObservableInput<unknown>) =>
  lastValueFrom(from(input), { defaultValue: undefined })
const full: AcceptedEvent = {
  id: 'e-1',
  type: 'checkout.completed',
  timestamp: 1_764_151_200_123,
  receivedAt: 1_764_151_200_456,
  source: 'web',
  userId: "u-'quoted'\\",
  sessionId: 's-1',
  properties: { total: 12.5, items: [{ sku: 'a\nb' }] },
  transport: 'ws',
}
const plain = (id: string): AcceptedEvent => ({
  id,
  type: 'page_view',
  timestamp: 1_764_151_200_000,
  receivedAt: 1_764_151_200_001,
  transport: 'rest',
})

/** What routing and the HTTP endpoints rely on from a dead-letter store; run against each implementation. */
export function deadLetterStoreContract(
  name: string,
  store: () => DeadLetterStore,
  options: { failingStore?: () => DeadLetterStore } = {},
) {
  describe(name, () => {
    it('writes a row per event and lists them newest first, the event as accepted', async () => {
      await done(
        store().write([
          { route: 'list', event: full, error: "HTTP 400: can't", attempts: 1, time: 1_000_000 },
        ]),
      )
      await done(
        store().write([
          { route: 'list', event: plain('e-2'), error: 'HTTP 503', attempts: 8, time: 2_000_000 },
        ]),
      )
      const listed = await value(store().list({ route: 'list', limit: 10 }))
      expect(listed.map(({ key, ...rest }) => rest)).toEqual([
        { route: 'list', event: plain('e-2'), error: 'HTTP 503', attempts: 8, time: 2_000_000 },
        { route: 'list', event: full, error: "HTTP 400: can't", attempts: 1, time: 1_000_000 },
      ])
      expect(
        (await value(store().list({ route: 'list', sinceMs: 1_500_000, limit: 10 }))).map(
          (l) => l.event.id,
        ),
      ).toEqual(['e-2'])
      expect(await value(store().list({ route: "nope' OR 1=1 --", limit: 10 }))).toEqual([])
    })

    it('pages a range oldest first, also through rows of the same millisecond, and removes exactly the rows read', async () => {
      const route = 'paged'
      const letters = Array.from({ length: 7 }, (_, i) => ({
        route,
        event: plain(`p-${i}`),
        error: 'HTTP 500',
        attempts: 8,
        time: 5_000_000 + Math.floor(i / 3),
      }))
      await done(store().write(letters))
      await done(
        store().write([
          { route, event: plain('late'), error: 'HTTP 500', attempts: 8, time: 9_000_000 },
        ]),
      )
      const range = { route, sinceMs: 5_000_000, untilMs: 6_000_000 }
      const seen: StoredDeadLetter[] = []
      let after: string | undefined
      for (;;) {
        const page = await value(store().page(range, 3, after))
        seen.push(...page)
        if (page.length < 3) break
        after = page[page.length - 1]!.key
      }
      expect(seen.map((l) => l.event.id).sort()).toEqual(letters.map((l) => l.event.id).sort())
      expect(new Set(seen.map((l) => l.key)).size).toBe(7)
      await done(
        store().remove(
          route,
          seen.slice(0, 4).map((l) => l.key),
        ),
      )
      await until(async () => (await value(store().list({ route, limit: 100 }))).length === 4)
      const left = (await value(store().list({ route, limit: 100 }))).map((l) => l.event.id).sort()
      expect(left).toEqual(['late', ...seen.slice(4).map((l) => l.event.id)].sort())
    })

    it.runIf(options.failingStore)('calls a refused insert final', async () => {
      const missing = options.failingStore!()
      const error = await done(
        missing.write([{ route: 'r', event: plain('x'), error: 'e', attempts: 1, time: 1 }]),
      ).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(Error)
      expect(missing.isRetriable(error)).toBe(false)
    })
  })
}
