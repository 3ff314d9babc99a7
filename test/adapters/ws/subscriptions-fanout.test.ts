import { Subject } from 'rxjs'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  createSubscriberFanout,
  type Subscriber,
} from '../../../src/adapters/ws/subscriber-fanout.js'
import type { AcceptedEvent } from '../../../src/streams/event.js'

/** A subscriber whose socket never drains (`keeps`) or always does; counts how often its backlog is read. */
function fakeSubscriber(options: { backlog?: number; keeps?: boolean } = {}) {
  let backlog = options.backlog ?? 0
  const subscriber = {
    reads: 0,
    received: [] as Array<{ op: string; code?: string; event?: { type: string } }>,
    get bufferedAmount() {
      subscriber.reads++
      return backlog
    },
    sendUnsolicited(text: string) {
      subscriber.received.push(JSON.parse(text))
      if (options.keeps) backlog += Buffer.byteLength(text)
    },
    events: () => subscriber.received.filter((m) => m.op === 'event').map((m) => m.event!.type),
    notices: () => subscriber.received.filter((m) => m.op === 'error').map((m) => m.code),
  }
  return subscriber satisfies Subscriber
}

let serial = 0
const event = (type: string, properties?: Record<string, unknown>): AcceptedEvent => ({
  id: `e${++serial}`,
  type,
  timestamp: 0,
  receivedAt: 0,
  transport: 'ws',
  ...(properties && { properties }),
})
const bytesOf = (e: AcceptedEvent) =>
  Buffer.byteLength(
    JSON.stringify({
      op: 'event',
      event: {
        id: e.id,
        type: e.type,
        timestamp: '1970-01-01T00:00:00.000Z',
        receivedAt: '1970-01-01T00:00:00.000Z',
        ...(e.properties && { properties: e.properties }),
        transport: e.transport,
      },
    }),
  )

afterEach(() => vi.restoreAllMocks())

describe('subscriber fan-out', () => {
  it('listens to the accepted events only while some connection is subscribed', () => {
    const accepted$ = new Subject<AcceptedEvent>()
    const fanout = createSubscriberFanout(accepted$, {
      maxBufferedBytes: 1 << 20,
      maxTotalBufferedBytes: 1 << 30,
    })
    // Nobody listening: the pipeline builds no event objects for this stream (validate.ts).
    expect(accepted$.observed).toBe(false)
    const first = fakeSubscriber()
    const second = fakeSubscriber()
    fanout.subscribe(first, ['a'])
    fanout.subscribe(second, ['*'])
    expect(accepted$.observed).toBe(true)
    fanout.unsubscribe(first)
    accepted$.next(event('a'))
    expect(accepted$.observed).toBe(true)
    fanout.unsubscribe(second)
    expect(accepted$.observed).toBe(false)
    accepted$.next(event('a'))
    fanout.subscribe(first, ['a'])
    accepted$.next(event('a'))
    expect([first.events(), second.events()]).toEqual([['a'], ['a']])
    fanout.close()
    expect(accepted$.observed).toBe(false)
  })

  it('sends each event once to the subscribers whose patterns match it, and to no other', () => {
    const accepted$ = new Subject<AcceptedEvent>()
    const fanout = createSubscriberFanout(accepted$, {
      maxBufferedBytes: 1 << 20,
      maxTotalBufferedBytes: 1 << 30,
    })
    const [exact, prefix, nested, all] = [
      fakeSubscriber(),
      fakeSubscriber(),
      fakeSubscriber(),
      fakeSubscriber(),
    ]
    fanout.subscribe(exact, ['checkout'])
    fanout.subscribe(prefix, ['checkout.*', 'checkout.step.*'])
    fanout.subscribe(nested, ['a.*'])
    fanout.subscribe(all, ['*'])
    for (const type of ['checkout', 'checkout.step.2', 'a.b.c', 'signup'])
      accepted$.next(event(type))
    expect(exact.events()).toEqual(['checkout'])
    expect(prefix.events()).toEqual(['checkout.step.2'])
    expect(nested.events()).toEqual(['a.b.c'])
    expect(all.events()).toEqual(['checkout', 'checkout.step.2', 'a.b.c', 'signup'])
    fanout.close()
  })

  it('stops sending after unsubscribe, and a new subscribe replaces the patterns', () => {
    const accepted$ = new Subject<AcceptedEvent>()
    const fanout = createSubscriberFanout(accepted$, {
      maxBufferedBytes: 1 << 20,
      maxTotalBufferedBytes: 1 << 30,
    })
    const watcher = fakeSubscriber()
    fanout.subscribe(watcher, ['alpha.*'])
    accepted$.next(event('alpha.1'))
    fanout.subscribe(watcher, ['beta'])
    accepted$.next(event('alpha.2'))
    accepted$.next(event('beta'))
    fanout.unsubscribe(watcher)
    accepted$.next(event('beta'))
    expect(watcher.events()).toEqual(['alpha.1', 'beta'])
    expect(fanout.size).toBe(0)
    fanout.close()
  })

  it('does no work per event for subscribers it does not match: the same lookups with 0 or 10,000 of them', () => {
    const lookups = (idle: number) => {
      const accepted$ = new Subject<AcceptedEvent>()
      const fanout = createSubscriberFanout(accepted$, {
        maxBufferedBytes: 1 << 20,
        maxTotalBufferedBytes: 1 << 30,
      })
      const watcher = fakeSubscriber()
      fanout.subscribe(watcher, ['page.view.*'])
      const others = Array.from({ length: idle }, (_, i) => {
        const other = fakeSubscriber()
        fanout.subscribe(other, [
          ...Array.from({ length: 10 }, (_, j) => `page.s${i}p${j}.*`),
          `page.view.x${i}`,
        ])
        return other
      })
      const get = vi.spyOn(Map.prototype, 'get')
      accepted$.next(event('page.view.home'))
      const count = get.mock.calls.length
      get.mockRestore()
      expect(watcher.events()).toEqual(['page.view.home'])
      expect(others.every((other) => other.reads === 0 && other.received.length === 0)).toBe(true)
      fanout.close()
      return count
    }
    const none = lookups(0)
    // the exact type, then `page.` and `page.view.`: one lookup per dot, whoever else is subscribed
    expect(none).toBe(3)
    expect(lookups(10_000)).toBe(none)
  })

  it('drops a subscriber past its own bound, tells it why, and keeps sending to the others', () => {
    const accepted$ = new Subject<AcceptedEvent>()
    const dropped = vi.fn()
    const fanout = createSubscriberFanout(accepted$, {
      maxBufferedBytes: 1000,
      maxTotalBufferedBytes: 1 << 30,
      onDropped: dropped,
    })
    const slow = fakeSubscriber({ keeps: true })
    const fast = fakeSubscriber()
    fanout.subscribe(slow, ['*'])
    fanout.subscribe(fast, ['*'])
    for (let i = 0; i < 20; i++) accepted$.next(event('t', { pad: 'x'.repeat(100) }))
    expect(dropped).toHaveBeenCalledTimes(1)
    expect(slow.notices()).toEqual(['subscriber_too_slow'])
    expect(slow.received.at(-1)?.code).toBe('subscriber_too_slow') // nothing after the notice
    expect(fast.events()).toHaveLength(20)
    expect(fanout.size).toBe(1)
    fanout.close()
  })
})

describe('the total bound on output held for subscribers', () => {
  it('drops the slowest subscribers, largest backlog first, until the total is under the bound', () => {
    const accepted$ = new Subject<AcceptedEvent>()
    const dropped = vi.fn()
    const fanout = createSubscriberFanout(accepted$, {
      maxBufferedBytes: 1 << 20,
      maxTotalBufferedBytes: 10_000,
      onDropped: dropped,
    })
    // Each is under its own bound; together they pass the total.
    const slowest = fakeSubscriber({ backlog: 6000, keeps: true })
    const slower = fakeSubscriber({ backlog: 3000, keeps: true })
    const slow = fakeSubscriber({ backlog: 1000, keeps: true })
    const fast = fakeSubscriber()
    const idle = fakeSubscriber({ backlog: 500 })
    for (const subscriber of [slowest, slower, slow, fast]) fanout.subscribe(subscriber, ['*'])
    fanout.subscribe(idle, ['nothing.sent.*'])
    const sample = event('t')
    let sent = 0
    while (dropped.mock.calls.length === 0 && sent < 1000) {
      accepted$.next(event('t'))
      sent++
    }
    expect(dropped).toHaveBeenCalledTimes(1)
    expect(slowest.notices()).toEqual(['subscriber_too_slow'])
    expect(slowest.received.at(-1)?.op).toBe('error')
    expect([slower, slow, fast, idle].flatMap((s) => s.notices())).toEqual([])
    // Not on the first event, though the backlogs were already past the bound: only once the bytes
    // sent to the four (the estimate) passed it. (+1: later ids are a digit longer than the sample's.)
    expect(sent).toBeGreaterThan(1)
    expect(sent * 4 * (bytesOf(sample) + 1)).toBeGreaterThan(10_000)
    accepted$.next(event('t'))
    expect(slowest.events()).toHaveLength(sent) // the event that passed the bound went out before the measure
    expect(fast.events()).toHaveLength(sent + 1)
    expect(fanout.size).toBe(4)

    // Keeping on, the next slowest goes, and the one that drains never does.
    while (dropped.mock.calls.length < 3 && sent < 1000) {
      accepted$.next(event('t'))
      sent++
    }
    expect(slower.notices()).toEqual(['subscriber_too_slow'])
    expect(slow.notices()).toEqual(['subscriber_too_slow'])
    for (let i = 0; i < 200; i++) accepted$.next(event('t'))
    expect(fast.notices()).toEqual([])
    expect(idle.notices()).toEqual([]) // 500 bytes alone are under the bound
    expect(fanout.size).toBe(2)
    fanout.close()
  })

  it('measures every subscriber’s backlog only when the bytes sent since the last measure pass the bound', () => {
    const accepted$ = new Subject<AcceptedEvent>()
    const fanout = createSubscriberFanout(accepted$, {
      maxBufferedBytes: 1 << 20,
      maxTotalBufferedBytes: 10_000,
    })
    const fast = fakeSubscriber()
    const idle = fakeSubscriber()
    fanout.subscribe(fast, ['*'])
    fanout.subscribe(idle, ['nothing.sent'])
    const perEvent = bytesOf(event('t'))
    const underBound = Math.floor(10_000 / perEvent)
    for (let i = 0; i < underBound; i++) accepted$.next(event('t'))
    expect(idle.reads).toBe(0)
    accepted$.next(event('t'))
    expect(idle.reads).toBe(1)
    // It found nothing held: the next measure waits for another bound's worth of sends.
    for (let i = 0; i < underBound - 1; i++) accepted$.next(event('t'))
    expect(idle.reads).toBe(1)
    for (let i = 0; i < 2; i++) accepted$.next(event('t'))
    expect(idle.reads).toBe(2)
    expect(fast.notices()).toEqual([])
    fanout.close()
  })
})
