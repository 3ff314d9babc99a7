import {
  asyncScheduler,
  firstValueFrom,
  lastValueFrom,
  map,
  mergeMap,
  NEVER,
  of,
  Subject,
  throwError,
  type Observable,
} from 'rxjs'
import { describe, expect, it } from 'vitest'
import { finalError, retriableError } from '../../../src/streams/routing/delivery-error.js'
import { route } from '../../../src/streams/routing/route.js'
import { PENDING_AT_SHUTDOWN } from '../../../src/streams/routing/route-lane.js'
import {
  createRouter,
  ReplayInProgressError,
  UnknownRouteError,
  type RouterDeps,
} from '../../../src/streams/routing/router.js'
import { createMemoryLocks } from '../../../src/adapters/memory/memory-locks.js'
import { createMemoryDedupeStore } from '../../../src/adapters/memory/memory-dedupe-store.js'
import { createPipeline } from '../../../src/streams/pipeline.js'
import type { Delivery } from '../../../src/streams/routing/ports.js'
import { createFakeSink } from '../../../src/testing/fake-sink.js'
import type { DeadLetterReason } from '../../../src/streams/routing/telemetry.js'
import { event, fakeDelivery, memoryDeadLetters, memoryOutbox, type Call } from './fakes.js'
import { sleep, until } from '../../support/wait.js'

// Real time, short waits: these tests go through promises (enqueue, drain, replay), which virtual time does not run.
const fast = { batchMaxWaitMs: 5, backoffInitialMs: 1, backoffMaxMs: 2 }

function deps(
  behave?: (call: Call) => { ms?: number; error?: unknown } | undefined,
  extra: Partial<RouterDeps> = {},
) {
  const fake = fakeDelivery(asyncScheduler, behave)
  const store = memoryDeadLetters()
  const deadLettered: Array<[string, number, DeadLetterReason]> = []
  return {
    ...fake,
    store,
    deadLettered,
    deps: {
      delivery: fake.delivery,
      deadLetters: store,
      telemetry: {
        batchDeadLettered: (r: string, n: number, reason: DeadLetterReason) =>
          deadLettered.push([r, n, reason]),
      },
      ...extra,
    },
  }
}

describe('router', () => {
  it('sends each event to every route that matches its type, and to no other', async () => {
    const { deps: d, delivered } = deps()
    const router = createRouter(
      {
        routes: [
          route({ name: 'views', match: ['page_view'], url: 'http://a/', ...fast }),
          route({ name: 'checkout', match: ['checkout.*'], url: 'http://b/', ...fast }),
          route({ name: 'all', match: ['*'], url: 'http://c/', ...fast }),
        ],
      },
      d,
    )
    await router.start()
    await router.enqueue([
      event('1', 'page_view'),
      event('2', 'checkout.completed'),
      event('3', 'checkout'),
      event('4', 'signup'),
    ])
    await router.drain()
    const got = (name: string) =>
      delivered
        .filter((c) => c.route === name)
        .flatMap((c) => c.ids.split(','))
        .sort()
        .join(',')
    expect([got('views'), got('checkout'), got('all')]).toEqual(['1', '2', '1,2,3,4'])
  })

  it('writes what overflows a full queue to dead letters at once, with no attempt, and delivers the rest', async () => {
    let open = false
    const { deps: d, store, deadLettered, delivered } = deps(() => (open ? undefined : { ms: 50 }))
    const router = createRouter(
      {
        routes: [
          route({
            name: 'r',
            match: ['*'],
            url: 'http://a/',
            batchMaxEvents: 3,
            batchMaxWaitMs: 1,
          }),
        ],
        queueMaxEvents: 3,
      },
      d,
    )
    await router.start()
    await router.enqueue(['a', 'b', 'c', 'd', 'e'].map((id) => event(id)))
    await until(() => store.rows.length === 2)
    expect(store.rows.map((r) => [r.event.id, r.attempts, r.error])).toEqual([
      ['d', 0, 'route queue full (3 events pending)'],
      ['e', 0, 'route queue full (3 events pending)'],
    ])
    expect(deadLettered).toEqual([['r', 2, 'overflow']])
    expect(router.status()).toEqual([{ route: 'r', breaker: 'closed', pending: 3 }])
    open = true
    await router.drain()
    expect(delivered.map((c) => c.ids)).toEqual(['a,b,c'])
  })

  it('holds events in the bounded queue while the breaker is open, and sends the overflow to dead letters', async () => {
    const states: string[] = []
    const {
      deps: d,
      store,
      calls,
    } = deps(() => ({ error: retriableError('ECONNREFUSED') }), {
      telemetry: { breakerChanged: (_r, state) => states.push(state) },
    })
    const router = createRouter(
      {
        routes: [
          route({
            name: 'r',
            match: ['*'],
            url: 'http://a/',
            batchMaxEvents: 1,
            batchMaxWaitMs: 1,
            concurrency: 1,
            backoffInitialMs: 1,
          }),
        ],
        queueMaxEvents: 5,
        breaker: { failureThreshold: 2, coolDownMs: 60_000 },
      },
      d,
    )
    await router.start()
    await router.enqueue([event('a')])
    await until(() => router.status()[0]!.breaker === 'open')
    await router.enqueue(['b', 'c', 'd', 'e', 'f', 'g'].map((id) => event(id)))
    await until(() => store.rows.length === 2)
    expect(router.status()).toEqual([{ route: 'r', breaker: 'open', pending: 5 }])
    expect(store.rows.map((r) => [r.event.id, r.attempts])).toEqual([
      ['f', 0],
      ['g', 0],
    ])
    expect(calls).toHaveLength(2) // nothing goes while it is open
    expect(states).toEqual(['open'])
    await router.drain({ flushMs: 10 })
  })

  it('delivers a partial batch at drain without waiting for its window', async () => {
    const { deps: d, delivered } = deps()
    const router = createRouter(
      { routes: [route({ name: 'r', match: ['*'], url: 'http://a/', batchMaxWaitMs: 60_000 })] },
      d,
    )
    await router.start()
    await router.enqueue([event('a')])
    const started = Date.now()
    await router.drain()
    expect(delivered.map((c) => c.ids)).toEqual(['a'])
    expect(Date.now() - started).toBeLessThan(1000)
  })

  it('persists what is still pending when the drain deadline comes, as dead letters of reason shutdown', async () => {
    const hanging: Delivery = { send: () => NEVER }
    const { deps: d, store, deadLettered } = deps()
    const router = createRouter(
      { routes: [route({ name: 'r', match: ['*'], url: 'http://a/', batchMaxEvents: 1 })] },
      { ...d, delivery: hanging },
    )
    await router.start()
    await router.enqueue([event('a'), event('b')])
    await router.drain({ flushMs: 30 })
    expect(store.rows.map((r) => [r.event.id, r.error]).sort()).toEqual([
      ['a', PENDING_AT_SHUTDOWN],
      ['b', PENDING_AT_SHUTDOWN],
    ])
    expect(deadLettered).toEqual([['r', 2, 'shutdown']])
  })

  it('sends what the last shutdown left at the next start, and nothing else', async () => {
    const { deps: d, store, delivered } = deps()
    await lastValueFrom(
      store.write([
        {
          route: 'r',
          event: event('left'),
          error: PENDING_AT_SHUTDOWN,
          attempts: 0,
          time: Date.now() - 1000,
        },
        {
          route: 'r',
          event: event('failed'),
          error: 'HTTP 500',
          attempts: 8,
          time: Date.now() - 1000,
        },
      ]) as Observable<unknown>,
    )
    const router = createRouter(
      { routes: [route({ name: 'r', match: ['*'], url: 'http://a/', ...fast })] },
      d,
    )
    await router.start()
    await until(() => delivered.length === 1)
    await until(() => store.rows.length === 1)
    expect(delivered.map((c) => c.ids)).toEqual(['left'])
    expect(store.rows.map((r) => r.event.id)).toEqual(['failed'])
    await router.drain()
  })

  it('replays dead letters through the route, removes them once delivered, and does not replay what fails again meanwhile', async () => {
    let down = true
    const {
      deps: d,
      store,
      delivered,
    } = deps(() => (down ? { error: finalError('HTTP 410') } : undefined))
    const router = createRouter(
      { routes: [route({ name: 'r', match: ['*'], url: 'http://a/', ...fast })] },
      d,
    )
    await router.start()
    await router.enqueue(['a', 'b', 'c'].map((id) => event(id)))
    await until(() => store.rows.length === 3)
    // Still down: the replay hands them on, they fail again, and are written anew (later than the replay's range).
    expect(await router.replay('r')).toEqual({ replayed: 3 })
    expect(store.rows.map((r) => r.event.id).sort()).toEqual(['a', 'b', 'c'])
    down = false
    expect(await router.replay('r')).toEqual({ replayed: 3 })
    expect(store.rows).toEqual([])
    expect(delivered.flatMap((c) => c.ids.split(',')).sort()).toEqual(['a', 'b', 'c'])
    await expect(router.replay('nope')).rejects.toBeInstanceOf(UnknownRouteError)
    await router.drain()
  })

  it('replays only dead letters written since the time given', async () => {
    const { deps: d, store, delivered } = deps()
    const router = createRouter(
      { routes: [route({ name: 'r', match: ['*'], url: 'http://a/', ...fast })] },
      d,
    )
    await router.start()
    const now = Date.now()
    await lastValueFrom(
      store.write([
        { route: 'r', event: event('old'), error: 'HTTP 500', attempts: 8, time: now - 60_000 },
        { route: 'r', event: event('new'), error: 'HTTP 500', attempts: 8, time: now - 1000 },
        { route: 'other', event: event('x'), error: 'HTTP 500', attempts: 8, time: now - 1000 },
      ]) as Observable<unknown>,
    )
    expect(await router.replay('r', now - 5000)).toEqual({ replayed: 1 })
    expect(delivered.map((c) => c.ids)).toEqual(['new'])
    expect(store.rows.map((r) => r.event.id)).toEqual(['old', 'x'])
    await router.drain()
  })
})

describe('router replays, one at a time per route', () => {
  const letter = (id: string) => ({
    route: 'r',
    event: event(id),
    error: 'HTTP 500',
    attempts: 8,
    time: Date.now() - 1000,
  })

  it('refuses a second replay of a route while one runs in this process, and takes one again once it is done', async () => {
    const { deps: d, store, delivered } = deps(() => ({ ms: 50 }))
    const router = createRouter(
      { routes: [route({ name: 'r', match: ['*'], url: 'http://a/', ...fast })] },
      d,
    )
    await router.start()
    await lastValueFrom(store.write([letter('a')]) as Observable<unknown>)
    const first = router.replay('r')
    await expect(router.replay('r')).rejects.toBeInstanceOf(ReplayInProgressError)
    expect(await first).toEqual({ replayed: 1 })
    expect(await router.replay('r')).toEqual({ replayed: 0 })
    expect(delivered.map((c) => c.ids)).toEqual(['a'])
    await router.drain()
  })

  it('refuses a replay while another instance holds the route’s lock, and sends each dead letter once', async () => {
    const locks = createMemoryLocks()
    const shared = memoryDeadLetters()
    const one = deps(() => ({ ms: 50 }), { locks })
    const two = deps(() => ({ ms: 50 }), { locks })
    const config = { routes: [route({ name: 'r', match: ['*'], url: 'http://a/', ...fast })] }
    const a = createRouter(config, { ...one.deps, deadLetters: shared })
    const b = createRouter(config, { ...two.deps, deadLetters: shared })
    await Promise.all([a.start(), b.start()])
    await lastValueFrom(shared.write([letter('x'), letter('y')]) as Observable<unknown>)
    const first = a.replay('r')
    await sleep(5)
    const second = b.replay('r')
    await expect(second).rejects.toBeInstanceOf(ReplayInProgressError)
    await expect(second).rejects.toThrow('a replay of route "r" is in progress')
    expect(await first).toEqual({ replayed: 2 })
    // Released: the other instance may replay now (nothing is left).
    expect(await b.replay('r')).toEqual({ replayed: 0 })
    expect([...one.delivered, ...two.delivered].flatMap((c) => c.ids.split(','))).toEqual([
      'x',
      'y',
    ])
    await Promise.all([a.drain(), b.drain()])
  })

  it('stops a replay at its next page once its lock is lost (it lapsed, and another instance may have it)', async () => {
    let lost = false
    const locks = {
      ttlMs: 1000,
      take: (name: string) =>
        Promise.resolve({
          name,
          get lost() {
            return lost
          },
          release: () => Promise.resolve(),
        }),
      wait: () => Promise.resolve(undefined),
      holder: () => Promise.resolve(undefined),
    }
    const { deps: d, store, delivered } = deps(() => ((lost = true), { ms: 1 }), { locks })
    const router = createRouter(
      {
        routes: [route({ name: 'r', match: ['*'], url: 'http://a/', ...fast })],
        replayPageSize: 1,
      },
      d,
    )
    await router.start()
    await lastValueFrom(store.write([letter('p'), letter('q')]) as Observable<unknown>)
    expect(await router.replay('r')).toEqual({ replayed: 1 })
    expect(delivered.map((c) => c.ids)).toEqual(['p'])
    await router.drain()
  })
})

describe('router with an outbox', () => {
  it('appends matched events to the outbox, delivers them from it and acks them once delivered', async () => {
    const outbox = memoryOutbox()
    const { deps: d, delivered } = deps(undefined, { outbox })
    const router = createRouter(
      { routes: [route({ name: 'r', match: ['page_view'], url: 'http://a/', ...fast })] },
      d,
    )
    await router.start()
    await router.enqueue([event('a'), event('b', 'other')])
    await until(() => outbox.acked.length === 1)
    expect(delivered.map((c) => c.ids)).toEqual(['a'])
    expect(outbox.size('r')).toBe(0)
    await router.drain()
  })

  it('rejects a hand-off whose outbox append fails, and says so: the pipeline fails those events rather than ack them from memory', async () => {
    const { router, delivered, failures } = await routerWhoseAppendFails(
      'READONLY You can’t write against a read only replica.',
    )
    await expect(router.enqueue([event('a')])).rejects.toThrow('READONLY')
    await router.drain()
    expect(delivered).toEqual([])
    expect(failures).toEqual(['append'])
  })

  it('delivers from memory what it follows (already acked) when the outbox append fails', async () => {
    const { router, delivered, failures } = await routerWhoseAppendFails('outbox down')
    router.follow(of(event('a')))
    await sleep(50)
    await router.drain()
    expect(delivered.map((c) => c.ids)).toEqual(['a'])
    expect(failures).toEqual(['append'])
  })

  it('reads no more than the queue holds, and leaves what is pending at the deadline in the outbox', async () => {
    const outbox = memoryOutbox()
    const { deps: d, store } = deps(undefined, { outbox, delivery: { send: () => NEVER } })
    const router = createRouter(
      {
        routes: [
          route({
            name: 'r',
            match: ['*'],
            url: 'http://a/',
            batchMaxEvents: 2,
            batchMaxWaitMs: 1,
            concurrency: 1,
          }),
        ],
        queueMaxEvents: 4,
      },
      d,
    )
    await router.start()
    await router.enqueue(['a', 'b', 'c', 'd', 'e', 'f'].map((id) => event(id)))
    await sleep(30)
    expect(router.status()[0]!.pending).toBe(4)
    await router.drain({ flushMs: 20 })
    expect(store.rows).toEqual([])
    expect(outbox.size('r')).toBe(6)
    // Released: another consumer (the next start) reads all six again.
    expect(await firstValueFrom(outbox.read('r', 10) as Observable<unknown[]>)).toHaveLength(6)
  })

  it('replays dead letters by appending them to the outbox, then removes them', async () => {
    const outbox = memoryOutbox()
    const { deps: d, store, delivered } = deps(undefined, { outbox })
    const router = createRouter(
      { routes: [route({ name: 'r', match: ['*'], url: 'http://a/', ...fast })] },
      d,
    )
    await router.start()
    await lastValueFrom(
      store.write([
        { route: 'r', event: event('a'), error: 'HTTP 503', attempts: 8, time: Date.now() - 10 },
      ]) as Observable<unknown>,
    )
    expect(await router.replay('r')).toEqual({ replayed: 1 })
    expect(store.rows).toEqual([])
    await until(() => delivered.length === 1)
    await router.drain()
  })

  it('enqueues what a followed stream of accepted events emits', async () => {
    const { deps: d, delivered } = deps()
    const router = createRouter(
      { routes: [route({ name: 'r', match: ['*'], url: 'http://a/', ...fast })] },
      d,
    )
    await router.start()
    const accepted = new Subject<ReturnType<typeof event>>()
    router.follow(accepted)
    accepted.next(event('a'))
    accepted.next(event('b'))
    accepted.complete()
    await router.drain()
    expect(delivered.flatMap((c) => c.ids.split(','))).toEqual(['a', 'b'])
  })

  it('runs route transforms at most transformConcurrency at once, and writes what they throw on in one insert per route and batch, each row with its own error', async () => {
    const { deps: d, store, delivered } = deps()
    let running = 0
    let most = 0
    const slow = (source: Observable<ReturnType<typeof event>>) =>
      source.pipe(
        mergeMap(async (e) => {
          most = Math.max(most, ++running)
          await sleep(5)
          running--
          if (e.id.startsWith('bad')) throw new Error(`no ${e.id}`)
          return e
        }),
      )
    const writes: number[] = []
    const write = store.write.bind(store)
    store.write = (letters) => (writes.push(letters.length), write(letters))
    const router = createRouter(
      {
        routes: [route({ name: 'r', match: ['*'], url: 'http://a/', ...fast })],
        transforms: { r: [slow] },
        transformConcurrency: 2,
      },
      d,
    )
    await router.start()
    await router.enqueue([event('ok1'), event('bad1'), event('ok2'), event('bad2'), event('ok3')])
    await router.drain()
    expect(most).toBe(2)
    expect(delivered.flatMap((c) => c.ids.split(','))).toEqual(['ok1', 'ok2', 'ok3'])
    expect(writes).toEqual([2])
    expect(store.rows.map((r) => [r.event.id, r.error])).toEqual([
      ['bad1', 'a transform of route r failed: no bad1'],
      ['bad2', 'a transform of route r failed: no bad2'],
    ])
  })

  it('does not wait for the dead letters of a route transform before it hands the batch on', async () => {
    const { deps: d, store } = deps()
    const held = new Subject<void>()
    store.write = () => held
    const router = createRouter(
      {
        routes: [route({ name: 'r', match: ['*'], url: 'http://a/', ...fast })],
        transforms: {
          r: [
            map(() => {
              throw new Error('no')
            }),
          ],
        },
      },
      d,
    )
    await router.start()
    await router.enqueue([event('a')]) // resolves although the dead-letter insert has not answered
    const drained = router.drain()
    held.complete()
    await drained
  })

  it('retries 5xx and dead-letters 4xx end to end', async () => {
    const {
      deps: d,
      store,
      delivered,
    } = deps((call) =>
      call.ids === 'bad'
        ? { error: finalError('HTTP 422', { status: 422 }) }
        : call.attempt < 3
          ? { error: retriableError('HTTP 503', { status: 503 }) }
          : undefined,
    )
    const router = createRouter(
      {
        routes: [route({ name: 'r', match: ['*'], url: 'http://a/', batchMaxEvents: 1, ...fast })],
      },
      d,
    )
    await router.start()
    await router.enqueue([event('ok'), event('bad')])
    await router.drain()
    expect(delivered.map((c) => `${c.ids}#${c.attempt}`)).toEqual(['ok#3'])
    expect(store.rows.map((r) => [r.event.id, r.error, r.attempts])).toEqual([
      ['bad', 'HTTP 422', 1],
    ])
  })
})

describe("the pipeline's routing stage", () => {
  it('puts committed events in the outbox before the pipeline acks them, and only once a write succeeded', async () => {
    const outbox = memoryOutbox()
    const appended: string[] = []
    const append = outbox.append.bind(outbox)
    outbox.append = (entries) => (
      entries.forEach(({ events }) => appended.push(...events.map((e) => e.id))),
      append(entries)
    )
    const { deps: d } = deps(undefined, { outbox })
    const router = createRouter(
      { routes: [route({ name: 'r', match: ['*'], url: 'http://a/', ...fast })] },
      d,
    )
    await router.start()
    const sink = createFakeSink({
      fail: (_events, attempt) => (attempt === 1 ? new Error('ECONNRESET') : undefined),
    })
    const pipeline = createPipeline(
      {
        insertBatchMaxRows: 100,
        insertBatchMaxWaitMs: 1,
        insertConcurrency: 1,
        maxInflightEvents: 1000,
        retry: { initialMs: 1, maxMs: 1, budgetMs: 1000 },
      },
      {
        sink,
        routes: router,
        store: createMemoryDedupeStore({ ttlSeconds: 60, reservationSeconds: 10, maxEntries: 100 }),
      },
    )
    const results = await pipeline.submit(
      [
        { id: 'x', type: 'page_view' },
        { id: 'y', type: 'page_view' },
      ],
      'rest',
    )!
    expect(results.map((r) => r.status)).toEqual(['accepted', 'accepted'])
    expect(appended).toEqual(['x', 'y']) // already there when the ack came; the failed first write added nothing
    expect(sink.attempts).toBe(2)
    await pipeline.drain()
    await router.drain()
  })
})

/** A started router of one route whose outbox refuses every append with `message`. */
async function routerWhoseAppendFails(message: string) {
  const outbox = memoryOutbox()
  outbox.append = () => throwError(() => new Error(message))
  const failures: string[] = []
  const { deps: d, delivered } = deps(undefined, {
    outbox,
    telemetry: { outboxFailed: (operation) => failures.push(operation) },
  })
  const router = createRouter(
    { routes: [route({ name: 'r', match: ['*'], url: 'http://a/', ...fast })] },
    d,
  )
  await router.start()
  return { router, delivered, failures }
}
