import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createClient, type ClientOptions, type PublishResult } from '../../src/client.js'
import { fakeWebSocket, type FakeSocket } from './support/fake-socket.js'

// The client's state machine against a fake socket, under fake timers: reconnects, re-sends, the
// window, the retry budget, closing, and servers that break the protocol.

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

/** Lets promises and due timers run. */
const tick = (ms = 0) => vi.advanceTimersByTimeAsync(ms)

function setup(options: Partial<ClientOptions> = {}) {
  const fake = fakeWebSocket()
  const client = createClient({
    url: 'ws://sluice.test:8080',
    WebSocket: fake.WebSocket,
    backoff: { initialMs: 10, maxMs: 100 },
    ...options,
  })
  /** the socket the client made last, once it has made it */
  const socket = async (): Promise<FakeSocket> => {
    await tick()
    return fake.sockets.at(-1)!
  }
  /** waits out any backoff, then the new socket, accepted */
  const reconnected = async (): Promise<FakeSocket> => {
    await tick(100)
    const fresh = fake.sockets.at(-1)!
    expect(fresh.readyState).toBe(0)
    return fresh.accept()
  }
  return { client, sockets: fake.sockets, socket, reconnected }
}

/** A publish whose outcome the test can look at before it settles. */
function track(promise: Promise<PublishResult[]>) {
  const state: { results?: PublishResult[]; error?: unknown; settlements: number } = {
    settlements: 0,
  }
  promise.then(
    (results) => ((state.results = results), state.settlements++),
    (error: unknown) => ((state.error = error), state.settlements++),
  )
  return state
}

const statuses = (results?: PublishResult[]) => results?.map((r) => r.status)

describe('publishing', () => {
  it('gives each event without an id a UUIDv7 before its first send, and keeps given ids', async () => {
    const { client, socket } = setup()
    const published = track(client.publish([{ type: 'a' }, { id: 'mine', type: 'b' }]))
    const ws = (await socket()).accept()
    const [frame] = ws.publishes()
    expect(frame!.ids[0]).toMatch(UUIDV7)
    expect(frame!.ids[1]).toBe('mine')
    ws.ack(1, ['accepted', 'rejected'])
    await tick()
    expect(published.results).toEqual([
      { index: 0, id: frame!.ids[0], status: 'accepted' },
      { index: 1, id: 'mine', status: 'rejected', errors: [{ path: 'type', message: 'bad' }] },
    ])
    await client.close()
  })

  it('sends nothing before the welcome, then splits a publish to the maxEventsPerFrame it names', async () => {
    const { client, socket } = setup()
    const events = Array.from({ length: 7 }, (_, i) => ({ type: 'a', properties: { i } }))
    const published = track(client.publish(events))
    const ws = await socket()
    expect(ws.sent).toEqual([])
    ws.accept(3)
    expect(ws.publishes().map((f) => f.events.length)).toEqual([3, 3, 1])
    ws.answerFrom(1)
    await tick()
    expect(published.results!.map((r) => r.index)).toEqual([0, 1, 2, 3, 4, 5, 6])
    expect(published.results!.map((r) => r.id)).toEqual(ws.publishes().flatMap((f) => f.ids))
    await client.close()
  })

  it('refuses what is not an array of event objects with a TypeError, and publishes after close() with an Error', async () => {
    const { client, socket } = setup()
    await expect(client.publish({ type: 'a' } as any)).rejects.toThrow(TypeError)
    await expect(client.publish([{ type: 'a' }, null] as any)).rejects.toThrow(/events\[1\]/)
    await expect(client.publish([{ id: 7, type: 'a' }] as any)).rejects.toThrow(
      /id must be a string/,
    )
    expect(await client.publish([])).toEqual([])
    ;(await socket()).accept()
    await client.close()
    await expect(client.publish([{ type: 'a' }])).rejects.toThrow(/after close/)
  })

  it('a duplicate answering a re-send is accepted; one answering a first send stays a duplicate; a conflict stays a conflict', async () => {
    const { client, socket, reconnected } = setup()
    const first = track(client.publish([{ id: 'e1', type: 'a' }]))
    const ws = (await socket()).accept()
    ws.drop()
    const again = await reconnected()
    const second = track(
      client.publish([
        { id: 'e2', type: 'a' },
        { id: 'e3', type: 'a' },
      ]),
    )
    await tick()
    expect(again.publishes().map((f) => f.ids)).toEqual([['e1'], ['e2', 'e3']])
    again.ack(1, ['duplicate']).ack(2, ['duplicate', 'conflict'])
    await tick()
    expect(statuses(first.results)).toEqual(['accepted'])
    expect(second.results).toEqual([
      { index: 0, id: 'e2', status: 'duplicate' },
      { index: 1, id: 'e3', status: 'duplicate', conflict: true },
    ])
    await client.close()
  })
})

describe('reconnecting', () => {
  it('after a lost connection, re-subscribes and then re-sends every unanswered frame in its original order', async () => {
    const { client, socket, reconnected } = setup()
    client.subscribe(['page_view'], () => {})
    const published = [1, 2, 3, 4].map((n) => track(client.publish([{ id: `e${n}`, type: 'a' }])))
    const ws = (await socket()).accept()
    expect(ws.frames().map(({ frame }) => frame.op ?? frame[0].id)).toEqual([
      'subscribe',
      'e1',
      'e2',
      'e3',
      'e4',
    ])
    ws.message({ op: 'subscribed', seq: 1, types: ['page_view'] })
      .ack(2)
      .ack(3)
    ws.drop(1012, 'service restart')
    const again = await reconnected()
    expect(again.frames().map(({ frame }) => frame.op ?? frame[0].id)).toEqual([
      'subscribe',
      'e3',
      'e4',
    ])
    again.answerFrom(1)
    await tick()
    expect(published.map((p) => statuses(p.results))).toEqual([
      ['accepted'],
      ['accepted'],
      ['accepted'],
      ['accepted'],
    ])
    expect(published.every((p) => p.settlements === 1)).toBe(true)
    await client.close()
  })

  it('ignores an answer that comes on a connection it already gave up: the event is settled once, from the new one', async () => {
    const { client, socket, reconnected } = setup({
      heartbeatIntervalMs: 1000,
      heartbeatTimeoutMs: 3000,
    })
    const published = track(client.publish([{ id: 'e1', type: 'a' }]))
    const old = (await socket()).accept()
    await tick(4000) // silence: the client gives the connection up
    expect(old.terminated).toBe(true)
    old.ack(1, ['failed']) // late, on the dead socket
    const again = await reconnected()
    expect(again.publishes().map((f) => f.ids)).toEqual([['e1']])
    again.ack(1)
    await tick()
    expect(statuses(published.results)).toEqual(['accepted'])
    expect(published.settlements).toBe(1)
    await client.close()
  })

  it('pings a quiet connection, and a connection that stays silent past the timeout is made again', async () => {
    const { client, socket, sockets } = setup({
      heartbeatIntervalMs: 1000,
      heartbeatTimeoutMs: 3000,
    })
    const ws = (await socket()).accept()
    await tick(1000)
    expect(ws.frames().map(({ frame }) => frame.op)).toEqual(['ping'])
    ws.message({ op: 'pong', seq: 1 })
    await tick(2000)
    expect(ws.frames().map(({ frame }) => frame.op)).toEqual(['ping', 'ping'])
    expect(ws.terminated).toBe(false)
    await tick(2000) // 3 s without a word
    expect(ws.terminated).toBe(true)
    await tick(100)
    expect(sockets).toHaveLength(2)
    await client.close()
  })

  it('a connection that is never welcomed is given up after the heartbeat timeout', async () => {
    const { client, socket, sockets } = setup({
      heartbeatIntervalMs: 1000,
      heartbeatTimeoutMs: 3000,
    })
    const ws = await socket()
    ws.readyState = 1
    await tick(3000)
    expect(ws.terminated).toBe(true)
    await tick(100)
    expect(sockets).toHaveLength(2)
    await client.close()
  })
})

describe('the window', () => {
  it('holds at most maxInflightEvents unanswered events: publish waits for room', async () => {
    const { client, socket } = setup({ maxInflightEvents: 3 })
    const a = track(client.publish([{ type: 'a' }, { type: 'a' }]))
    const b = track(client.publish([{ type: 'a' }, { type: 'a' }]))
    const c = track(client.publish([{ type: 'a' }]))
    const ws = (await socket()).accept()
    await tick()
    // b does not fit (2 + 2 > 3), and c waits behind it: first come, first served
    expect(ws.publishes().map((f) => f.events.length)).toEqual([2])
    expect(client.stats()).toMatchObject({ inflightEvents: 2, waitingPublishes: 2 })
    ws.ack(1)
    await tick()
    expect(ws.publishes().map((f) => f.events.length)).toEqual([2, 2, 1])
    expect(client.stats().inflightEvents).toBe(3)
    ws.ack(2).ack(3)
    await tick()
    expect([a, b, c].map((p) => p.settlements)).toEqual([1, 1, 1])
    expect(client.stats()).toMatchObject({ inflightEvents: 0, waitingPublishes: 0 })
    await client.close()
  })

  it('a publish larger than the window goes out in parts, each when it has room', async () => {
    const { client, socket } = setup({ maxInflightEvents: 2 })
    const published = track(
      client.publish([1, 2, 3, 4, 5].map((n) => ({ id: `e${n}`, type: 'a' }))),
    )
    const ws = (await socket()).accept()
    for (let seq = 1; seq <= 3; seq++) {
      await tick()
      ws.ack(seq)
    }
    await tick()
    expect(ws.publishes().map((f) => f.ids)).toEqual([['e1', 'e2'], ['e3', 'e4'], ['e5']])
    expect(published.results!.map((r) => r.id)).toEqual(['e1', 'e2', 'e3', 'e4', 'e5'])
    await client.close()
  })
})

describe('failed results and the retry budget', () => {
  it('re-sends failed events with backoff, and reports them failed once retryBudgetMs has run out', async () => {
    const { client, socket } = setup({ retryBudgetMs: 1000 })
    const published = track(
      client.publish([
        { id: 'ok', type: 'a' },
        { id: 'down', type: 'a' },
      ]),
    )
    const ws = (await socket()).accept()
    ws.ack(1, ['accepted', 'failed'])
    await tick(100)
    expect(ws.publishes().map((f) => f.ids)).toEqual([['ok', 'down'], ['down']])
    ws.ack(2, ['failed'])
    await tick(100)
    expect(ws.publishes()).toHaveLength(3)
    // failed until the budget is over
    for (let seq = 3; published.settlements === 0; seq++) {
      ws.ack(seq, ['failed'])
      await tick(100)
    }
    expect(published.results![0]).toEqual({ index: 0, id: 'ok', status: 'accepted' })
    expect(published.results![1]).toMatchObject({ index: 1, id: 'down', status: 'failed' })
    expect((published.results![1] as { message: string }).message).toMatch(/could not commit/)
    expect(Date.now() - 0).toBeGreaterThanOrEqual(1000)
    await client.close()
  })

  it('a failed event re-sent and then answered duplicate was stored by its earlier send: accepted', async () => {
    const { client, socket } = setup()
    const published = track(client.publish([{ id: 'e1', type: 'a' }]))
    const ws = (await socket()).accept()
    ws.ack(1, ['failed'])
    await tick(100)
    ws.ack(2, ['duplicate'])
    await tick()
    expect(statuses(published.results)).toEqual(['accepted'])
    await client.close()
  })

  it('with no server at all, events fail once the budget is over, naming the last trouble', async () => {
    const { client, sockets } = setup({ retryBudgetMs: 2000 })
    const published = track(client.publish([{ type: 'a' }]))
    for (let i = 0; i < 40 && published.settlements === 0; i++) {
      await tick(100)
      sockets.at(-1)!.drop()
    }
    expect(published.results![0]).toMatchObject({ status: 'failed' })
    expect((published.results![0] as { message: string }).message).toMatch(
      /not delivered within retryBudgetMs \(2000 ms\): connection closed \(connection reset\)/,
    )
    await client.close()
  })
})

describe('closing', () => {
  it('close() while reconnecting waits for the re-send to be answered, then leaves no timer and no listener', async () => {
    const { client, socket, reconnected } = setup()
    const published = track(client.publish([{ id: 'e1', type: 'a' }]))
    const ws = (await socket()).accept()
    ws.drop()
    let closed = false
    void client.close().then(() => (closed = true))
    await tick()
    expect(closed).toBe(false)
    const again = await reconnected()
    again.ack(1)
    await tick()
    expect(statuses(published.results)).toEqual(['accepted'])
    // the close handshake, answered
    expect(again.closedWith).toEqual({ code: 1000, reason: 'client closed' })
    await tick()
    expect(closed).toBe(true)
    expect(client.stats()).toMatchObject({ connected: false, timers: 0 })
    expect(vi.getTimerCount()).toBe(0)
    expect([again.onmessage, again.onclose, again.onopen]).toEqual([null, null, null])
  })

  it('close() with nothing pending closes at once; a server that never answers the close is cut off', async () => {
    const { client, socket } = setup()
    const ws = (await socket()).accept()
    ws.answersClose = false
    const closing = client.close()
    await tick(1000)
    await closing
    expect(ws.terminated).toBe(true)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('close() while the server is gone for good resolves once the budget fails the events', async () => {
    const { client, socket, sockets } = setup({ retryBudgetMs: 500 })
    const published = track(client.publish([{ type: 'a' }]))
    ;(await socket()).drop()
    const closing = client.close()
    for (let i = 0; i < 20 && published.settlements === 0; i++) {
      await tick(100)
      if (sockets.at(-1)!.readyState === 0) sockets.at(-1)!.drop()
    }
    await closing
    expect(statuses(published.results)).toEqual(['failed'])
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('a server that breaks the protocol', () => {
  for (const [name, answer] of [
    ['garbage', (ws: FakeSocket) => ws.message('not json {')],
    ['a message without op', (ws: FakeSocket) => ws.message({ seq: 1 })],
    [
      'an ack with too few results',
      (ws: FakeSocket) => ws.message({ op: 'ack', seq: 1, results: [] }),
    ],
    [
      'an ack of a frame never sent',
      (ws: FakeSocket) => ws.message({ op: 'ack', seq: 9, results: [] }),
    ],
    [
      'an ack for other events',
      (ws: FakeSocket) =>
        ws.message({ op: 'ack', seq: 1, results: [{ index: 0, id: 'other', status: 'accepted' }] }),
    ],
    ['a binary message', (ws: FakeSocket) => ws.onmessage?.({ data: new ArrayBuffer(2) })],
  ] as const)
    it(`${name}: drops the connection, reconnects and re-sends, settling each publish once`, async () => {
      const { client, socket, reconnected } = setup()
      const published = track(client.publish([{ id: 'e1', type: 'a' }]))
      const ws = (await socket()).accept()
      answer(ws)
      expect(ws.terminated).toBe(true)
      const again = await reconnected()
      expect(again.publishes().map((f) => f.ids)).toEqual([['e1']])
      again.ack(1)
      await tick()
      expect(statuses(published.results)).toEqual(['accepted'])
      expect(published.settlements).toBe(1)
      await client.close()
    })

  it('a seq answered twice: the second answer is not applied; what had no answer is re-sent', async () => {
    const { client, socket, reconnected } = setup()
    const first = track(client.publish([{ id: 'e1', type: 'a' }]))
    const second = track(client.publish([{ id: 'e2', type: 'a' }]))
    const ws = (await socket()).accept()
    ws.ack(1).ack(1, ['failed'])
    const again = await reconnected()
    expect(again.publishes().map((f) => f.ids)).toEqual([['e2']])
    again.ack(1)
    await tick()
    expect([statuses(first.results), statuses(second.results)]).toEqual([
      ['accepted'],
      ['accepted'],
    ])
    expect([first.settlements, second.settlements]).toEqual([1, 1])
    await client.close()
  })

  it('answers out of order: none is applied past the one due; both frames are re-sent', async () => {
    const { client, socket, reconnected } = setup()
    const first = track(client.publish([{ id: 'e1', type: 'a' }]))
    const second = track(client.publish([{ id: 'e2', type: 'a' }]))
    const ws = (await socket()).accept()
    ws.ack(2)
    const again = await reconnected()
    expect(again.publishes().map((f) => f.ids)).toEqual([['e1'], ['e2']])
    again.ack(1).ack(2)
    await tick()
    expect([first.settlements, second.settlements]).toEqual([1, 1])
    await client.close()
  })

  it('an error frame: too_many_events halves the frame and sends it again; a refusal fails its events with the reason', async () => {
    const { client, socket } = setup()
    const big = track(client.publish([1, 2, 3, 4].map((n) => ({ id: `e${n}`, type: 'a' }))))
    const ws = (await socket()).accept()
    ws.message({ op: 'error', seq: 1, code: 'too_many_events', message: 'at most 2' })
    expect(ws.publishes().map((f) => f.ids)).toEqual([
      ['e1', 'e2', 'e3', 'e4'],
      ['e1', 'e2'],
      ['e3', 'e4'],
    ])
    ws.ack(2).ack(3)
    const refused = track(client.publish([{ id: 'x', type: 'a' }]))
    await tick()
    ws.message({ op: 'error', seq: 4, code: 'invalid_frame', message: 'no' })
    await tick()
    expect(statuses(big.results)).toEqual(['accepted', 'accepted', 'accepted', 'accepted'])
    expect(refused.results).toEqual([
      {
        index: 0,
        id: 'x',
        status: 'failed',
        message: 'the server refused the frame: invalid_frame: no',
      },
    ])
    await client.close()
  })
})

describe('subscriptions', () => {
  it('delivers matching events to each listener, survives a reconnect, and unsubscribes', async () => {
    const { client, socket, reconnected } = setup()
    const checkout: string[] = []
    const all: string[] = []
    const one = client.subscribe(['checkout.*'], (event) => checkout.push(event.id))
    const two = client.subscribe(['*'], (event) => all.push(event.id))
    const ws = (await socket()).accept()
    expect(ws.frames().map(({ frame }) => frame)).toEqual([
      { op: 'subscribe', types: ['checkout.*', '*'] },
    ])
    ws.answerFrom(1)
    await expect(Promise.all([one.ready, two.ready])).resolves.toBeDefined()
    const event = (id: string, type: string) => ({
      op: 'event',
      event: { id, type, timestamp: 't', receivedAt: 't' },
    })
    ws.message(event('1', 'checkout.completed')).message(event('2', 'page_view'))
    ws.drop()
    const again = await reconnected()
    expect(again.frames().map(({ frame }) => frame.op)).toEqual(['subscribe'])
    again.answerFrom(1).message(event('3', 'checkout.step.2'))
    two.unsubscribe()
    expect(again.frames().at(-1)!.frame).toEqual({ op: 'subscribe', types: ['checkout.*'] })
    one.unsubscribe()
    expect(again.frames().at(-1)!.frame).toEqual({ op: 'unsubscribe' })
    again.answerFrom(2).message(event('4', 'checkout.completed'))
    expect(checkout).toEqual(['1', '3'])
    expect(all).toEqual(['1', '2', '3'])
    expect(() => client.subscribe(['checkout*'], () => {})).toThrow(TypeError)
    await client.close()
  })
})
