import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocketServer, type WebSocket } from 'ws'
import {
  createConnectionActor,
  type ConnectionActor,
  type ConnectionHost,
} from '../../../src/adapters/ws/connection-actor.js'
import { createTurnBudget } from '../../../src/adapters/ws/turn-budget.js'
import { resolveWsOptions } from '../../../src/adapters/ws/ws-options.js'
import type { Pipeline } from '../../../src/streams/pipeline.js'
import { uniqueId } from '../../support/services.js'
import {
  connect,
  gate,
  heldSink,
  pipelineOver,
  fakeStorage,
  until,
  type Storage,
} from './support.js'

let storage: Storage
let pipeline: Pipeline
let server: Server
let url: string
const slow = gate()
const accepted: Array<{ ws: WebSocket; socket: Duplex; before: Record<string, number> }> = []
const wss = new WebSocketServer({ noServer: true, clientTracking: false })

const listeners = (emitter: NodeJS.EventEmitter) =>
  Object.fromEntries(
    emitter.eventNames().map((name) => [String(name), emitter.listenerCount(name)]),
  )

beforeAll(async () => {
  storage = await fakeStorage()
  pipeline = pipelineOver(
    storage,
    heldSink(storage.sink, (events) =>
      events.some((e) => e.type === 'actor.slow') ? slow.wait() : undefined,
    ),
  )
  server = createServer()
  server.on('upgrade', (request, socket, head) =>
    wss.handleUpgrade(request, socket, head, (ws) =>
      accepted.push({ ws, socket, before: listeners(socket) }),
    ),
  )
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  slow.open()
  await pipeline.drain()
  await new Promise((resolve) => server.close(resolve))
  await storage.dispose()
})

/** A host that records what the actor asks of the gateway. */
function recordingHost() {
  const calls = {
    settled: 0,
    subscribed: 0,
    unsubscribed: 0,
    closed: [] as number[],
    faults: [] as unknown[],
  }
  const host: ConnectionHost = {
    options: resolveWsOptions({}),
    pipeline,
    telemetry: {},
    turnBudget: createTurnBudget(),
    now: Date.now,
    eventsSettled: () => calls.settled++,
    waitForAdmission: () => {},
    subscribe: () => calls.subscribed++,
    unsubscribe: () => calls.unsubscribed++,
    closed: (_connection, code) => calls.closed.push(code),
    faulted: (_connection, error) => calls.faults.push(error),
  }
  return { host, calls }
}

describe('connection actor', () => {
  it('contains a fault reached while handling a frame: the frame keeps its one reply, the connection closes with 1011, the fault is reported', async () => {
    const earlier = accepted.length
    const client = await connect(url)
    await until(() => accepted.length === earlier + 1)
    const { ws, socket } = accepted[earlier]!
    const { host, calls } = recordingHost()
    const faulty: ConnectionHost = {
      ...host,
      subscribe: () => {
        throw new Error('a bug reached by this frame')
      },
    }
    createConnectionActor('c-faulty', ws, socket, faulty)
    expect(await client.next()).toMatchObject({ op: 'welcome' })
    client.send({ op: 'ping' })
    client.send({ op: 'subscribe', types: ['*'] })
    expect(await client.next()).toEqual({ op: 'pong', seq: 1 })
    expect(await client.next()).toEqual({ op: 'subscribed', seq: 2, types: ['*'] })
    await until(() => calls.closed.length === 1)
    expect(calls.closed).toEqual([1011])
    expect(calls.faults.map((error) => (error as Error).message)).toEqual([
      'a bug reached by this frame',
    ])
  })

  it('handles a flood of frames over many turns, in order, while not reading: timers still run between them', async () => {
    const earlier = accepted.length
    const client = await connect(url)
    await until(() => accepted.length === earlier + 1)
    const { ws, socket } = accepted[earlier]!
    const { host } = recordingHost()
    const budget = { turnMs: 1000, framesPerConnection: 50 }
    const actor = createConnectionActor('c-flood', ws, socket, {
      ...host,
      turnBudget: createTurnBudget(budget),
    })
    expect(await client.next()).toMatchObject({ op: 'welcome' })
    // One write of 2,000 pings: ws hands them all over in the turn that reads them.
    const frames = Array.from({ length: 2000 }, () => '{"op":"ping"}')
    const tcp = (client.ws as unknown as { _socket: Duplex })._socket
    tcp.cork()
    for (const frame of frames) client.ws.send(frame)
    tcp.uncork()
    let ticks = 0
    const ticker = setInterval(() => ticks++, 0)
    await until(() => actor.readingPaused)
    const seqs: number[] = []
    for (let i = 0; i < 2000; i++) seqs.push(((await client.next()) as { seq: number }).seq)
    clearInterval(ticker)
    expect(seqs).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1))
    // 2,000 frames at 50 a turn: at least 40 turns, and the timer ran in many of them
    expect(ticks).toBeGreaterThan(10)
    await until(() => !actor.readingPaused)
    client.ws.close()
  })

  it('releases everything it held when its peer vanishes with a frame in flight: listeners, held frames, replies', async () => {
    const earlier = accepted.length
    const client = await connect(url)
    await until(() => accepted.length === earlier + 1)
    const { ws, socket, before } = accepted[earlier]!
    const { host, calls } = recordingHost()
    const actor: ConnectionActor = createConnectionActor('c-1', ws, socket, host)
    expect(await client.next()).toMatchObject({ op: 'welcome', connectionId: 'c-1' })
    expect(ws.eventNames().sort()).toEqual(['close', 'error', 'message', 'ping', 'pong'])

    client.send({ op: 'subscribe', types: ['*'] })
    client.send([{ id: uniqueId(), type: 'actor.slow' }])
    await until(() => actor.inflightEvents === 1)
    expect(calls.subscribed).toBe(1)
    client.ws.terminate() // the peer vanishes: no close frame
    await until(() => calls.closed.length === 1)

    expect(calls.closed).toEqual([1006])
    expect(actor.state).toBe('closed')
    expect(ws.eventNames()).toEqual([]) // the actor added every listener on the socket's WebSocket, and removed them
    expect(listeners(socket).drain ?? 0).toBe(before.drain ?? 0)
    // The frame in flight still settles; its ack has nowhere to go and is dropped without a throw.
    slow.open()
    await until(() => actor.inflightEvents === 0)
    expect(calls.settled).toBe(1)
    expect(actor.heldFrames).toBe(0)
    expect(calls.closed).toEqual([1006])
  })
})
