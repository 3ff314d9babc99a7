import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Pipeline } from '../../../src/streams/pipeline.js'
import { uniqueId } from '../../support/services.js'
import {
  connect,
  pipelineOver,
  fakeStorage,
  startGateway,
  until,
  type Client,
  type Message,
  type Running,
  type Storage,
} from './support.js'

let storage: Storage
let pipeline: Pipeline
let running: Running
let dropped = 0

beforeAll(async () => {
  storage = await fakeStorage()
  pipeline = pipelineOver(storage)
  running = await startGateway(
    pipeline,
    { subscriberMaxBufferedBytes: 64 * 1024 },
    { subscriberDropped: () => dropped++ },
  )
})
afterAll(async () => {
  await running.gateway.close()
  await pipeline.drain()
  await storage.dispose()
})

async function subscriber(types: string[]): Promise<Client> {
  const client = await connect(running.url)
  await client.next()
  client.send({ op: 'subscribe', types })
  expect(await client.next()).toEqual({ op: 'subscribed', seq: 1, types })
  return client
}

async function publisher(): Promise<Client & { publish(events: unknown[]): Promise<Message> }> {
  const client = await connect(running.url)
  await client.next()
  return Object.assign(client, {
    async publish(events: unknown[]) {
      client.send(events)
      return client.next()
    },
  })
}

const eventsOf = (client: Client) =>
  client.received
    .filter((m) => m.op === 'event')
    .map((m) => m.event as { id: string; type: string })

describe('WebSocket subscriptions (API.md §4)', () => {
  it('sends a subscriber only accepted events whose type matches, once each, whatever transport they came by', async () => {
    const watcher = await subscriber(['checkout.*', 'page_view'])
    const everything = await subscriber(['*'])
    const sender = await publisher()
    const [checkout, view, signup, refund, last] = [
      uniqueId(),
      uniqueId(),
      uniqueId(),
      uniqueId(),
      uniqueId(),
    ]

    const first = await sender.publish([
      { id: checkout, type: 'checkout.completed', properties: { total: 12.5 } },
      { type: 'checkout.started', timestamp: 'yesterday' }, // rejected
      { id: view, type: 'page_view' },
      { id: signup, type: 'signup' }, // does not match
      { id: checkout, type: 'checkout.completed', properties: { total: 12.5 } }, // duplicate in the frame
    ])
    expect(first.results.map((r: { status: string }) => r.status)).toEqual([
      'accepted',
      'rejected',
      'accepted',
      'accepted',
      'duplicate',
    ])
    const second = await sender.publish([
      { id: checkout, type: 'checkout.completed', properties: { total: 12.5 } }, // duplicate of an earlier frame
      { type: 'checkout' }, // `checkout.*` needs the dot
    ])
    expect(second.results.map((r: { status: string }) => r.status)).toEqual([
      'duplicate',
      'accepted',
    ])
    expect(
      await pipeline.submit([{ id: refund, type: 'checkout.refunded' }], 'rest'),
    ).toMatchObject([{ status: 'accepted' }])
    // Events reach subscribers in commit order: once the last one is in, every earlier one is too.
    await sender.publish([{ id: last, type: 'page_view' }])
    await until(
      () =>
        eventsOf(watcher).some((e) => e.id === last) &&
        eventsOf(everything).some((e) => e.id === last),
    )

    expect(eventsOf(watcher).map((e) => e.id)).toEqual([checkout, view, refund, last])
    // every accepted event: checkout, view, signup, `checkout` (its id assigned), refund, last
    expect(eventsOf(everything)).toHaveLength(6)
    expect(new Set(eventsOf(everything).map((e) => e.id)).size).toBe(6)
    const wire = watcher.received.find((m) => m.op === 'event' && m.event.id === checkout)
    expect(wire).toEqual({
      op: 'event',
      event: {
        id: checkout,
        type: 'checkout.completed',
        timestamp: expect.stringMatching(/Z$/),
        receivedAt: expect.stringMatching(/Z$/),
        properties: { total: 12.5 },
        transport: 'ws',
      },
    })
    expect(
      watcher.received.find((m) => m.op === 'event' && m.event.id === refund)?.event.transport,
    ).toBe('rest')
    await Promise.all([watcher.close(), everything.close(), sender.close()])
  })

  it('stops sending after unsubscribe, and a new subscribe replaces the patterns', async () => {
    const watcher = await subscriber(['alpha'])
    const sender = await publisher()
    await sender.publish([{ id: uniqueId(), type: 'alpha' }])
    await until(() => eventsOf(watcher).length === 1)
    watcher.send({ op: 'subscribe', types: ['beta'] })
    await until(() => watcher.received.some((m) => m.op === 'subscribed' && m.seq === 2))
    await sender.publish([
      { id: uniqueId(), type: 'alpha' },
      { id: uniqueId(), type: 'beta' },
    ])
    await until(() => eventsOf(watcher).length === 2)
    watcher.send({ op: 'unsubscribe' })
    await until(() => watcher.received.some((m) => m.op === 'unsubscribed' && m.seq === 3))
    await sender.publish([{ id: uniqueId(), type: 'beta' }])
    watcher.send({ op: 'ping' })
    await until(() => watcher.received.some((m) => m.op === 'pong'))
    expect(eventsOf(watcher).map((e) => e.type)).toEqual(['alpha', 'beta'])
    await until(() => running.gateway.stats().subscribers === 0) // earlier tests' connections close on the server a moment after the client
    await Promise.all([watcher.close(), sender.close()])
  })

  it('drops a subscriber that does not read, tells it why, and keeps its connection', async () => {
    const slow = await subscriber(['bulk.*'])
    const sender = await publisher()
    slow.ws.pause() // reads nothing from now on: the server's output to it backs up
    const blob = 'b'.repeat(30 * 1024)
    let sent = 0
    // Until the server gives up on it (the kernel buffers on loopback take megabytes first).
    while (dropped === 0 && sent < 4000) {
      const ackMessage = await sender.publish(
        Array.from({ length: 25 }, () => ({ type: 'bulk.item', properties: { blob } })),
      )
      expect(ackMessage.op).toBe('ack')
      sent += 25
    }
    expect(dropped).toBe(1)
    await until(() => running.gateway.stats().subscribers === 0)
    await sender.publish([{ id: uniqueId(), type: 'bulk.after' }])
    slow.ws.resume()
    slow.send({ op: 'ping' })
    const pong = await until(() => slow.received.some((m) => m.op === 'pong'), 20_000).then(() =>
      slow.received.at(-1),
    )
    expect(pong).toEqual({ op: 'pong', seq: 2 })
    const notice = slow.received.filter((m) => m.op === 'error')
    expect(notice).toEqual([
      {
        op: 'error',
        code: 'subscriber_too_slow',
        message: expect.stringContaining('subscribe again'),
      },
    ])
    // Everything it got before the notice is a whole event; nothing after it.
    const noticeAt = slow.received.indexOf(notice[0]!)
    expect(slow.received.slice(noticeAt + 1)).toEqual([pong])
    expect(eventsOf(slow).length).toBeLessThan(sent)
    expect(eventsOf(slow).every((e) => e.type === 'bulk.item')).toBe(true)
    await Promise.all([slow.close(), sender.close()])
  })
})
