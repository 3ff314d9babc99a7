import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AcceptedEvent } from '../../../src/streams/event.js'
import type { Pipeline } from '../../../src/streams/pipeline.js'
import { uniqueId } from '../../support/services.js'
import {
  connect,
  gate,
  heldSink,
  pipelineOver,
  fakeStorage,
  startGateway,
  until,
  type Running,
  type Storage,
} from './support.js'

let storage: Storage
let pipeline: Pipeline
let running: Running
/** writes of events of these types wait for their gate */
const holds = new Map<string, Promise<unknown>>()
const commits: string[] = []

beforeAll(async () => {
  storage = await fakeStorage()
  const sink = heldSink(storage.sink, (events: readonly AcceptedEvent[]) => {
    const held = events.map((event) => holds.get(event.type)).find((hold) => hold !== undefined)
    return held?.then(() => void commits.push(...new Set(events.map((e) => e.type))))
  })
  pipeline = pipelineOver(storage, sink)
  running = await startGateway(pipeline, { maxEventsPerFrame: 5 })
})
afterAll(async () => {
  await running.gateway.close()
  await pipeline.drain()
  await storage.dispose()
})

describe('WebSocket protocol (API.md §4)', () => {
  it('welcomes a connection with its id and its limits', async () => {
    const client = await connect(running.url)
    expect(await client.next()).toEqual({
      op: 'welcome',
      connectionId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      maxFrameBytes: 1024 * 1024,
      maxEventsPerFrame: 5,
    })
    await client.close()
  })

  it('acks a bare event, an array and a publish frame with its ref, once the events are stored', async () => {
    const client = await connect(running.url)
    await client.next()
    const [a, b, c, d] = [uniqueId(), uniqueId(), uniqueId(), uniqueId()]
    client.send({ id: a, type: 'proto.bare' })
    client.send([
      { id: b, type: 'proto.array' },
      { id: c, type: 'proto.array' },
    ])
    client.send({
      op: 'publish',
      ref: 'batch-7',
      events: [{ id: d, type: 'proto.publish', properties: { n: 1 } }],
    })
    expect(await client.next()).toEqual({
      op: 'ack',
      seq: 1,
      results: [{ index: 0, id: a, status: 'accepted' }],
    })
    expect(await client.next()).toEqual({
      op: 'ack',
      seq: 2,
      results: [
        { index: 0, id: b, status: 'accepted' },
        { index: 1, id: c, status: 'accepted' },
      ],
    })
    expect(await client.next()).toEqual({
      op: 'ack',
      seq: 3,
      ref: 'batch-7',
      results: [{ index: 0, id: d, status: 'accepted' }],
    })
    // accepted means committed: the rows are there as soon as the acks are.
    expect(await storage.sink.count({ ids: [a, b, c, d] })).toBe(4)
    const [stored] = await storage.sink
      .recent({ type: 'proto.publish', limit: 10 })
      .then((rows) => rows.filter((row) => row.id === d))
    expect(stored).toMatchObject({ id: d, transport: 'ws', properties: { n: 1 } })
    await client.close()
  })

  it('gives every event its result inside the ack: rejected with errors, a repeated id duplicate, an absent id assigned', async () => {
    const client = await connect(running.url)
    await client.next()
    const id = uniqueId()
    client.send([
      { id, type: 'proto.mixed' },
      { type: 'bad type' },
      { id, type: 'proto.mixed' },
      { type: 'proto.mixed' },
    ])
    const ackMessage = await client.next()
    expect(ackMessage).toMatchObject({ op: 'ack', seq: 1 })
    expect(ackMessage.results).toEqual([
      { index: 0, id, status: 'accepted' },
      { index: 1, status: 'rejected', errors: [{ path: 'type', message: expect.any(String) }] },
      { index: 2, id, status: 'duplicate' },
      { index: 3, id: expect.any(String), status: 'accepted' },
    ])
    await client.close()
  })

  it('acks frames in order when the second frame’s batch commits before the first’s', async () => {
    const slow = gate()
    const type = `proto.slow.${uniqueId().slice(2, 10)}`
    holds.set(type, slow.wait())
    const client = await connect(running.url)
    await client.next()
    const first = uniqueId()
    client.send({ id: first, type })
    // Let the first frame's batch reach the sink and wait there, so the next one is a batch of its own.
    await until(() => pipeline.admission.inflight === 1)
    await new Promise((resolve) => setTimeout(resolve, 30))
    const second = uniqueId()
    client.send({ id: second, type: 'proto.fast' })
    client.send({ op: 'ping' })
    // The second batch is stored while the first still waits; its ack (and the pong) do not overtake.
    await until(async () => (await storage.sink.count({ ids: [second] })) === 1)
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(client.received.map((m) => m.op)).toEqual(['welcome'])
    slow.open()
    expect(await client.next()).toMatchObject({
      op: 'ack',
      seq: 1,
      results: [{ id: first, status: 'accepted' }],
    })
    expect(await client.next()).toMatchObject({
      op: 'ack',
      seq: 2,
      results: [{ id: second, status: 'accepted' }],
    })
    expect(await client.next()).toEqual({ op: 'pong', seq: 3 })
    expect(commits).toContain(type)
    await client.close()
  })

  it('answers ping, subscribe and unsubscribe, numbering every frame from 1', async () => {
    const client = await connect(running.url)
    await client.next()
    client.send({ op: 'ping' })
    client.send({ op: 'subscribe', types: ['page_view', 'checkout.*', 'page_view'] })
    client.send({ op: 'unsubscribe' })
    client.send({ op: 'ping' })
    expect(await client.next()).toEqual({ op: 'pong', seq: 1 })
    expect(await client.next()).toEqual({
      op: 'subscribed',
      seq: 2,
      types: ['page_view', 'checkout.*'],
    })
    expect(await client.next()).toEqual({ op: 'unsubscribed', seq: 3 })
    expect(await client.next()).toEqual({ op: 'pong', seq: 4 })
    await client.close()
  })

  it('answers frames it cannot use with error frames in place of acks, and the connection stays usable', async () => {
    const client = await connect(running.url)
    await client.next()
    const frames: Array<[unknown, string, RegExp]> = [
      ['{"type": "x",', 'invalid_json', /^malformed JSON at position \d+$/],
      ['42', 'invalid_frame', /event object, an array of events, or an object with "op"/],
      ['[]', 'invalid_frame', /at least one event/],
      [{ op: 'shout' }, 'invalid_frame', /unknown op "shout"/],
      [{ op: 7 }, 'invalid_frame', /unknown op 7/],
      [{ op: 'publish', events: {} }, 'invalid_frame', /"events" must be an array/],
      [
        { op: 'publish', ref: 'r'.repeat(129), events: [{ type: 'x' }] },
        'invalid_frame',
        /"ref" must be a string of at most 128/,
      ],
      [
        { op: 'publish', events: [{ type: 'x' }], extra: 1 },
        'invalid_frame',
        /unknown key "extra" in a publish frame/,
      ],
      [{ op: 'ping', now: 1 }, 'invalid_frame', /unknown key "now"/],
      [{ op: 'subscribe', types: [] }, 'invalid_frame', /non-empty array/],
      [
        { op: 'subscribe', types: ['checkout*'] },
        'invalid_frame',
        /types\.0 must be an event type, a prefix ending in "\.\*", or "\*"/,
      ],
      [
        Array.from({ length: 6 }, () => ({ type: 'x' })),
        'too_many_events',
        /at most 5 events; this one has 6/,
      ],
      [
        { op: 'publish', events: Array.from({ length: 6 }, () => ({ type: 'x' })) },
        'too_many_events',
        /at most 5/,
      ],
    ]
    for (const [frame] of frames) client.send(frame)
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true })
    const id = uniqueId()
    client.send({ id, type: 'proto.after-errors' })
    for (const [index, [, code, message]] of frames.entries()) {
      const reply = await client.next()
      expect(reply).toEqual({
        op: 'error',
        seq: index + 1,
        code,
        message: expect.stringMatching(message),
      })
    }
    expect(await client.next()).toEqual({
      op: 'error',
      seq: frames.length + 1,
      code: 'invalid_frame',
      message: expect.stringMatching(/binary frames/),
    })
    expect(await client.next()).toEqual({
      op: 'ack',
      seq: frames.length + 2,
      results: [{ index: 0, id, status: 'accepted' }],
    })
    expect(client.ws.readyState).toBe(client.ws.OPEN)
    await client.close()
  })

  it('answers a plain HTTP request on the WebSocket port with 426 in the error shape, with its request id', async () => {
    const response = await fetch(`http://127.0.0.1:${running.port}/`, {
      headers: { 'x-request-id': 'req-426' },
    })
    expect(response.status).toBe(426)
    expect(response.headers.get('x-request-id')).toBe('req-426')
    expect(await response.json()).toEqual({
      error: { code: 'upgrade_required', message: expect.any(String), requestId: 'req-426' },
    })
  })
})
