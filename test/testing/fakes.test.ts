import { firstValueFrom, from, lastValueFrom } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { ACCEPTED, rejected, type EventResult } from '../../src/streams/outcome.js'
import {
  acceptedEvent,
  createFakeRouteOutbox,
  createMemoryDedupeStore,
  createMemoryStorage,
  envelopes,
  submissions,
  withLatency,
} from '../../src/testing.js'
import { testScheduler } from '../streams/helpers.js'

const write = (
  storage: ReturnType<typeof createMemoryStorage>,
  rows: Parameters<typeof storage.write>[0],
) => lastValueFrom(from(storage.write(rows)), { defaultValue: undefined })

describe('memory storage', () => {
  it('reads back the newest first, each id once, with properties as the canonical JSON stored', async () => {
    const storage = createMemoryStorage()
    await write(storage, [
      { event: acceptedEvent('a', { receivedAt: 1 }) },
      {
        event: acceptedEvent('b', { receivedAt: 2, properties: { z: 1, a: 2 } }),
        propertiesText: '{"a":2,"z":1}',
      },
    ])
    await write(storage, [{ event: acceptedEvent('a', { receivedAt: 1 }) }])
    const recent = await storage.recent({ limit: 10 })
    expect(recent.map((e) => e.id)).toEqual(['b', 'a'])
    expect(Object.keys(recent[0]!.properties!)).toEqual(['a', 'z'])
    expect(await storage.count({ ids: ['a'] })).toBe(2)
    expect(await storage.count({ ids: ['a'], final: true })).toBe(1)
    expect(await storage.recentIds({ sinceMs: 2, limit: 10 })).toEqual([{ id: 'b', receivedAt: 2 }])
  })

  it('refuses writes and reads and fails its ping while it is down', async () => {
    let down = true
    const storage = createMemoryStorage({ down: () => down })
    await expect(write(storage, [{ event: acceptedEvent('a') }])).rejects.toThrow(/ECONNREFUSED/)
    expect(storage.isRetriable(new Error('ECONNREFUSED'))).toBe(true)
    await expect(storage.recent({ limit: 1 })).rejects.toThrow(/ECONNREFUSED/)
    expect(await storage.ping()).toBe(false)
    down = false
    await write(storage, [{ event: acceptedEvent('a') }])
    expect(await storage.count()).toBe(1)
  })
})

describe('fake route outbox', () => {
  it('hands an entry to one read at a time until it is acked or released', async () => {
    const outbox = createFakeRouteOutbox()
    await lastValueFrom(
      from(outbox.append([{ route: 'r', events: [acceptedEvent('a'), acceptedEvent('b')] }])),
    )
    const first = await firstValueFrom(from(outbox.read('r', 1)))
    expect(first.map((e) => e.event.id)).toEqual(['a'])
    expect((await firstValueFrom(from(outbox.read('r', 10)))).map((e) => e.event.id)).toEqual(['b'])
    outbox.release('r', [first[0]!.receipt])
    const again = await firstValueFrom(from(outbox.read('r', 10)))
    expect(again.map((e) => e.event.id)).toEqual(['a'])
    await lastValueFrom(from(outbox.ack('r', [again[0]!.receipt])))
    expect(outbox.pending('r').map((e) => e.id)).toEqual(['b'])
  })

  it('fails appends while told to, and keeps nothing of them', async () => {
    const outbox = createFakeRouteOutbox({ failAppends: () => true })
    await expect(
      lastValueFrom(from(outbox.append([{ route: 'r', events: [acceptedEvent('a')] }]))),
    ).rejects.toThrow(/ECONNREFUSED/)
    expect(outbox.pending('r')).toEqual([])
    expect(outbox.appends).toBe(1)
  })
})

describe('dedupe store with latency', () => {
  it('answers each round trip after its latency, on the scheduler it is given', () => {
    const scheduler = testScheduler()
    scheduler.run(({ expectObservable }) => {
      const store = withLatency(
        createMemoryDedupeStore({
          ttlSeconds: 60,
          reservationSeconds: 10,
          maxEntries: 10,
          now: () => scheduler.now(),
        }),
        {
          ms: (operation) => (operation === 'claim' ? 3 : 1),
          scheduler,
        },
      )
      const statuses = from(store.claim([{ id: 'a', fingerprint: 'f' }]))
      expectObservable(statuses, '^').toBe('---(r|)', {
        r: expect.objectContaining({ statuses: ['new'] }),
      })
    })
  })
})

describe('builders', () => {
  it('a submission answers once, with every result in the order sent, when its last event settles', () => {
    let now = 100
    const { make, answered } = submissions(() => now)
    const submission = make([{ type: 'a' }, { type: 'b' }], 'rest')
    const [first, second] = submission.envelopes()
    second!.settle(ACCEPTED, 'b')
    expect(answered).toEqual([])
    now = 105
    first!.settle(rejected([{ path: 'type', message: 'bad' }]), 'a')
    expect(answered).toHaveLength(1)
    expect(answered[0]!.at).toBe(105)
    expect(answered[0]!.results.map((r: EventResult) => [r.index, r.status])).toEqual([
      [0, 'rejected'],
      [1, 'accepted'],
    ])
  })

  it('envelopes record how and when each settles', () => {
    const { make, settled } = envelopes(() => 7)
    make('x', { fingerprint: 'f', event: { type: 'checkout' } }).settle(ACCEPTED)
    expect(settled).toEqual([{ id: 'x', status: 'accepted', at: 7 }])
    expect(make('y').event).toMatchObject({ id: 'y', type: 'page_view' })
  })
})
