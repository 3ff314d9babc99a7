import { filter, map } from 'rxjs'
import { TestScheduler } from 'rxjs/testing'
import { transform, type EventTransform, type Envelope, type Outcome } from 'sluice'
import { expect, it } from 'vitest'

// A user's transforms: drop internal events, redact e-mail addresses.
const dropInternal: EventTransform = filter((event) => !event.type.startsWith('internal.'))
const redactEmail: EventTransform = map((event) => ({
  ...event,
  ...(event.userId?.includes('@') && { userId: '[redacted]' }),
}))

it('runs each event through the transforms; a dropped event is rejected, the rest go on', () => {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected))
  scheduler.run(({ hot, expectObservable, flush }) => {
    const settled: string[] = []
    const envelope = (id: string, type: string, userId?: string): Envelope => ({
      event: { id, type, timestamp: 0, receivedAt: 0, transport: 'ws', ...(userId && { userId }) },
      fingerprint: id,
      settle: (outcome: Outcome) => settled.push(`${id}:${outcome.status}`),
    })
    const valid = hot('-a-b-c|', {
      a: envelope('a', 'signup', 'ann@example.com'),
      b: envelope('b', 'internal.ping'),
      c: envelope('c', 'page_view', 'u-7'),
    })
    const out = valid.pipe(
      transform({ transforms: [dropInternal, redactEmail], concurrency: 16 }),
      map((e) => `${e.event.id}:${e.event.userId}`),
    )
    expectObservable(out).toBe('-a---c|', { a: 'a:[redacted]', c: 'c:u-7' })
    flush()
    expect(settled).toEqual(['b:rejected'])
  })
})
