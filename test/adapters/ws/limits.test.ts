import { createConnection } from 'node:net'
import type { Duplex } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { WsTelemetry } from '../../../src/adapters/ws/index.js'
import type { AcceptedEvent } from '../../../src/streams/event.js'
import type { Pipeline } from '../../../src/streams/pipeline.js'
import { uniqueId } from '../../support/services.js'
import {
  connect,
  gate,
  heldSink,
  pipelineOver,
  fakeStorage,
  sleep,
  startGateway,
  statuses,
  until,
  upgradeStatus,
  type Running,
  type Storage,
} from './support.js'

let storage: Storage
let pipeline: Pipeline
const started: Running[] = []
/** writes of events of these types wait for their gate */
const holds = new Map<string, Promise<unknown>>()
const gates: Array<() => void> = []

beforeAll(async () => {
  storage = await fakeStorage()
  const sink = heldSink(storage.sink, (events: readonly AcceptedEvent[]) =>
    events.map((event) => holds.get(event.type)).find((hold) => hold !== undefined),
  )
  pipeline = pipelineOver(storage, sink)
})
afterAll(async () => {
  for (const open of gates) open()
  await Promise.all(started.map((running) => running.gateway.close()))
  await pipeline.drain()
  await storage.dispose()
})

async function gateway(
  options: Parameters<typeof startGateway>[1] = {},
  telemetry?: WsTelemetry,
): Promise<Running> {
  const running = await startGateway(pipeline, options, telemetry)
  started.push(running)
  return running
}

/** A frame whose commit waits until the returned gate opens. */
function heldType() {
  const type = `limits.held.${uniqueId().slice(2, 10)}`
  const held = gate()
  gates.push(held.open)
  holds.set(type, held.wait())
  return { type, open: held.open }
}

describe('WebSocket limits (API.md §4)', () => {
  it('closes with 1009 on a frame over WS_MAX_FRAME_BYTES, after sending the ack of every frame read before it', async () => {
    let tooLarge = 0
    const { url } = await gateway({ maxFrameBytes: 1024 }, { frameTooLarge: () => tooLarge++ })
    const client = await connect(url)
    await client.next()
    const held = heldType()
    const id = uniqueId()
    client.send({ id, type: held.type })
    client.send({ op: 'ping' })
    client.send({ type: 'x', properties: { blob: 'x'.repeat(2000) } })
    client.send({ op: 'ping' }) // after the oversize frame: never read
    await sleep(100)
    // The first frame is still being committed: the server holds the close until its ack is out.
    expect(client.ws.readyState).toBe(client.ws.OPEN)
    expect(client.received.map((m) => m.op)).toEqual(['welcome'])
    held.open()
    expect(await client.next()).toEqual({
      op: 'ack',
      seq: 1,
      results: [{ index: 0, id, status: 'accepted' }],
    })
    expect(await client.next()).toEqual({ op: 'pong', seq: 2 })
    expect(await client.closed).toMatchObject({ code: 1009 })
    expect(client.received).toHaveLength(3)
    expect(tooLarge).toBe(1)
    expect(await storage.sink.count({ ids: [id] })).toBe(1)
  })

  it('takes a frame of exactly WS_MAX_FRAME_BYTES', async () => {
    const { url } = await gateway({ maxFrameBytes: 1024 })
    const client = await connect(url)
    await client.next()
    const id = uniqueId()
    const frame = JSON.stringify({ id, type: 'x', properties: { pad: '' } })
    client.send(
      JSON.stringify({ id, type: 'x', properties: { pad: 'p'.repeat(1024 - frame.length) } }),
    )
    expect(await client.next()).toMatchObject({
      op: 'ack',
      seq: 1,
      results: [{ status: 'accepted' }],
    })
    await client.close()
  })

  it('refuses an upgrade over MAX_WS_CONNECTIONS with 503, and takes one again once a connection closes', async () => {
    const refused: number[] = []
    const { url, gateway: ws } = await gateway(
      { maxConnections: 2 },
      { upgradeRefused: (status) => refused.push(status) },
    )
    const first = await connect(url)
    const second = await connect(url)
    const over = await upgradeStatus(url)
    expect(over.status).toBe(503)
    expect(JSON.parse(over.body)).toEqual({
      error: {
        code: 'overloaded',
        message: expect.stringContaining('maximum of 2 connections'),
        requestId: expect.any(String),
      },
    })
    expect(refused).toEqual([503])
    expect(ws.stats().connections).toBe(2)
    await first.close()
    await until(() => ws.stats().connections === 1)
    const third = await connect(url)
    expect(await third.next()).toMatchObject({ op: 'welcome' })
    await Promise.all([second.close(), third.close()])
  })

  it('needs an API key on the upgrade when API_KEYS is set: Bearer, X-API-Key or ?api_key=, else 401', async () => {
    const { url } = await gateway({ apiKeys: ['key-one', 'key-two'] })
    expect((await upgradeStatus(url)).status).toBe(401)
    expect((await upgradeStatus(url, { headers: { authorization: 'Bearer nope' } })).status).toBe(
      401,
    )
    expect((await upgradeStatus(`${url}/?api_key=nope`)).status).toBe(401)
    const refusal = await upgradeStatus(url, { headers: { 'x-request-id': 'req-42' } })
    expect(JSON.parse(refusal.body)).toEqual({
      error: { code: 'unauthorized', message: expect.any(String), requestId: 'req-42' },
    })
    expect(
      (await upgradeStatus(url, { headers: { authorization: 'Bearer key-one' } })).status,
    ).toBe(101)
    expect((await upgradeStatus(url, { headers: { 'x-api-key': 'key-two' } })).status).toBe(101)
    expect((await upgradeStatus(`${url}/?api_key=key-two`)).status).toBe(101)
  })

  it("gives the events of a connection opened with a named key the key's name as their source when they carry none", async () => {
    const { url } = await gateway({ apiKeys: ['key-one', 'kiosk=key-two'] })
    const type = `limits.named.${uniqueId().slice(2, 10)}`
    for (const [key, expected] of [
      ['key-two', ['kiosk', 'pos', 'kiosk']],
      ['key-one', [null, 'pos', null]],
    ] as const) {
      const client = await connect(`${url}/?api_key=${key}`)
      await client.firstOf('welcome')
      client.send({ op: 'subscribe', types: [type] })
      await client.firstOf('subscribed')
      client.send([{ type }, { type, source: 'pos' }, { type, source: '' }])
      expect(statuses(await client.firstOf('ack'))).toEqual(['accepted', 'accepted', 'accepted'])
      const events = () => client.received.filter((m) => m.op === 'event')
      await until(() => events().length === 3, 10_000, 'three subscribed events')
      expect(events().map((m) => m.event.source ?? null)).toEqual(expected)
      await client.close()
    }
  })

  it('terminates a peer silent for two ping intervals, and keeps one that answers pings', async () => {
    let timedOut = 0
    const interval = 250
    const { url, gateway: ws } = await gateway(
      { pingIntervalMs: interval },
      { peerTimedOut: () => timedOut++ },
    )
    const answering = await connect(url)
    const silent = await connect(url, { autoPong: false })
    const since = Date.now()
    const { code } = await silent.closed
    const silentFor = Date.now() - since
    expect(code).toBe(1006) // terminated: no close handshake with a dead peer
    expect(silentFor).toBeGreaterThanOrEqual(2 * interval - 10)
    expect(silentFor).toBeLessThan(10 * interval)
    expect(timedOut).toBe(1)
    await sleep(3 * interval)
    expect(answering.ws.readyState).toBe(answering.ws.OPEN)
    expect(ws.stats().connections).toBe(1)
    await answering.close()
  })

  it('closes with 1008 a connection whose message has not arrived whole within the request timeout, though it answers pings', async () => {
    const { url } = await gateway({
      pingIntervalMs: 200,
      headersTimeoutMs: 500,
      requestTimeoutMs: 600,
    })
    const slow = await connect(url)
    const steady = await connect(url)
    const since = Date.now()
    // The first fragment of a message whose last never comes; ws answers the server's pings.
    slow.ws.send(`[{"type":"a","properties":{"p":"${'x'.repeat(50_000)}`, { fin: false })
    const ticker = setInterval(() => steady.send({ op: 'ping' }), 100)
    const { code } = await slow.closed
    clearInterval(ticker)
    expect(code).toBe(1008)
    expect(Date.now() - since).toBeGreaterThanOrEqual(550)
    // a connection sending whole messages all along is kept
    expect(steady.ws.readyState).toBe(steady.ws.OPEN)
    await steady.close()
  })

  it('closes the connections with the largest incomplete messages once all of them pass MAX_INFLIGHT_BYTES (1013), and only as many as it takes', async () => {
    const small = pipelineOver(storage, storage.sink, { maxInflightBytes: 300_000 })
    const running = await startGateway(small, { pingIntervalMs: 200, closeTimeoutMs: 3000 })
    try {
      const clients = await Promise.all([1, 2, 3].map(() => connect(running.url)))
      // The largest does not read: its close stays unanswered, and it stays closing, for a while.
      const largest = (clients[1]!.ws as unknown as { _socket: Duplex })._socket
      largest.pause()
      // 100 KB, 150 KB and 60 KB first fragments: 310 KB in all, the 150 KB one goes
      const sizes = [100_000, 150_000, 60_000]
      clients.forEach((client, i) => client.ws.send(`[${' '.repeat(sizes[i]!)}`, { fin: false }))
      // a dozen sweeps later the other two are still open: the one closing no longer counts
      await sleep(600)
      expect(clients[0]!.ws.readyState).toBe(clients[0]!.ws.OPEN)
      expect(clients[2]!.ws.readyState).toBe(clients[2]!.ws.OPEN)
      largest.resume()
      expect([1013, 1006]).toContain((await clients[1]!.closed).code)
      for (const client of [clients[0]!, clients[2]!]) client.ws.terminate()
    } finally {
      await running.gateway.close()
      await small.drain()
    }
  })

  it('answers a handshake it cannot take (a bad Sec-WebSocket-Key, not GET) in the error shape', async () => {
    const { port } = await gateway()
    const answer = (request: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = createConnection(port, '127.0.0.1', () => socket.write(request))
        let text = ''
        socket.on('data', (data: Buffer) => (text += data.toString()))
        socket.on('close', () => resolve(text))
        socket.on('error', reject)
      })
    const upgrade = (method: string, key: string) =>
      `${method} / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nX-Request-Id: bad-key\r\n\r\n`
    const badKey = await answer(upgrade('GET', 'not-a-key'))
    expect(badKey).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/)
    expect(badKey).toMatch(/\r\nContent-Type: application\/json\r\n/)
    expect(JSON.parse(badKey.slice(badKey.indexOf('\r\n\r\n') + 4))).toEqual({
      error: {
        code: 'invalid_request',
        message: expect.stringContaining('Sec-WebSocket-Key'),
        requestId: 'bad-key',
      },
    })
    const post = await answer(upgrade('POST', 'dGhlIHNhbXBsZSBub25jZQ=='))
    expect(post).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\n/)
    expect(post).toMatch(/"code":"method_not_allowed"/)
  })

  it('negotiates per-message deflate only when configured', async () => {
    const off = await connect((await gateway()).url)
    expect(off.ws.extensions).toBe('')
    const on = await connect((await gateway({ perMessageDeflate: true })).url)
    expect(on.ws.extensions).toMatch(/permessage-deflate/)
    await on.next()
    const id = uniqueId()
    on.send({ id, type: 'limits.deflate', properties: { text: 'z'.repeat(10_000) } })
    expect(await on.next()).toEqual({
      op: 'ack',
      seq: 1,
      results: [{ index: 0, id, status: 'accepted' }],
    })
    await Promise.all([off.close(), on.close()])
  })

  it('answers the frames in flight before it echoes a close the peer started', async () => {
    const { url } = await gateway()
    const client = await connect(url)
    await client.next()
    const held = heldType()
    const id = uniqueId()
    client.send({ id, type: held.type })
    await until(() => pipeline.admission.inflight > 0)
    client.ws.close(1000, 'done sending')
    await sleep(50)
    held.open()
    expect(await client.next()).toEqual({
      op: 'ack',
      seq: 1,
      results: [{ index: 0, id, status: 'accepted' }],
    })
    expect(await client.closed).toMatchObject({ code: 1000 })
  })
})

describe('graceful close (SIGTERM)', () => {
  it('stops accepting, lets frames in flight settle and acks them, then closes with 1001 and leaves nothing behind', async () => {
    const running = await startGateway(pipeline)
    const client = await connect(running.url)
    const idle = await connect(running.url)
    await client.next()
    const held = heldType()
    const id = uniqueId()
    client.send({ id, type: held.type })
    await until(() => running.gateway.stats().inflightEvents === 1)
    const closed = running.gateway.close()
    await sleep(20)
    // Not listening any more: a new connection is refused at once.
    await expect(connect(running.url)).rejects.toThrow(/ECONNREFUSED/)
    expect(await idle.closed).toMatchObject({ code: 1001 })
    expect(client.ws.readyState).toBe(client.ws.OPEN)
    held.open()
    expect(await client.next()).toEqual({
      op: 'ack',
      seq: 1,
      results: [{ index: 0, id, status: 'accepted' }],
    })
    expect(await client.closed).toMatchObject({ code: 1001, reason: 'server shutting down' })
    await closed
    expect(running.gateway.stats()).toMatchObject({
      connections: 0,
      timers: 0,
      subscribers: 0,
      inflightEvents: 0,
      heldFrames: 0,
    })
  })

  it('terminates a connection whose frames do not settle within the close timeout, and still resolves', async () => {
    let timedOut = 0
    const running = await startGateway(
      pipeline,
      { closeTimeoutMs: 300 },
      { closeTimedOut: () => timedOut++ },
    )
    const client = await connect(running.url)
    await client.next()
    const held = heldType()
    client.send({ type: held.type })
    await until(() => running.gateway.stats().inflightEvents === 1)
    const since = Date.now()
    await running.gateway.close()
    expect(Date.now() - since).toBeGreaterThanOrEqual(290)
    expect(await client.closed).toMatchObject({ code: 1006 })
    expect(timedOut).toBe(1)
    expect(running.gateway.stats()).toMatchObject({ connections: 0, timers: 0 })
    held.open()
  })
})
