import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import { defer } from 'rxjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Pipeline } from '../../../src/streams/pipeline.js'
import type { EventSink } from '../../../src/streams/ports.js'
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
  type Running,
  type Storage,
} from './support.js'

let storage: Storage
const closers: Array<() => Promise<unknown>> = []
const gates: Array<() => void> = []

beforeAll(async () => {
  storage = await fakeStorage()
})
afterAll(async () => {
  for (const open of gates) open()
  for (const close of closers.reverse()) await close()
  await storage.dispose()
})

/** Storage that counts what it commits, per type, and keeps none of it: a heap bound is then the gateway's alone. */
function countingSink() {
  const byType = new Map<string, number>()
  const sink: EventSink = {
    write: (rows) =>
      defer(async () => {
        for (const { event } of rows) byType.set(event.type, (byType.get(event.type) ?? 0) + 1)
      }),
    isRetriable: () => true,
  }
  return { sink, count: (type: string | undefined) => byType.get(type ?? '') ?? 0 }
}

async function gatewayOver(
  pipeline: Pipeline,
  ...rest: Parameters<typeof startGateway> extends [unknown, ...infer R] ? R : never
): Promise<Running> {
  const running = await startGateway(pipeline, ...rest)
  closers.push(
    () => pipeline.drain(),
    () => running.gateway.close(),
  )
  return running
}

describe('WebSocket backpressure', () => {
  it('holds a frame that admission refuses — neither dropped nor failed — and submits it once there is room', async () => {
    const slow = gate()
    gates.push(slow.open)
    // The high-water mark at the hard bound: reading goes on until a frame does not fit.
    const pipeline = pipelineOver(
      storage,
      heldSink(storage.sink, () => slow.wait()),
      { maxInflightEvents: 100, highWater: 100, lowWater: 40 },
    )
    const { url, gateway } = await gatewayOver(pipeline, { maxEventsPerFrame: 50 })
    // REST fills the pipeline nearly to its hard bound.
    const rest = pipeline.submit(
      Array.from({ length: 95 }, () => ({ type: 'bp.rest' })),
      'rest',
    )!
    const client = await connect(url)
    await client.next()
    const ids = Array.from({ length: 10 }, () => uniqueId())
    client.send(ids.map((id) => ({ id, type: 'bp.waits' })))
    await until(() => gateway.stats().waitingForAdmission === 1)
    expect(gateway.stats()).toMatchObject({
      heldFrames: 1,
      inflightEvents: 0,
      pausedConnections: 1,
    })
    expect(pipeline.admission.inflight).toBe(95)
    await sleep(50)
    expect(client.received).toHaveLength(1) // no ack, no error: it waits
    slow.open()
    expect(await client.next()).toEqual({
      op: 'ack',
      seq: 1,
      results: ids.map((id, index) => ({ index, id, status: 'accepted' })),
    })
    expect((await rest).every((r) => r.status === 'accepted')).toBe(true)
    expect(gateway.stats()).toMatchObject({
      heldFrames: 0,
      waitingForAdmission: 0,
      inflightEvents: 0,
      timers: 1,
    })
    await client.close()
  })

  it('stops reading a connection at its own in-flight cap, and never passes it', async () => {
    const slow = gate()
    gates.push(slow.open)
    const pipeline = pipelineOver(
      storage,
      heldSink(storage.sink, () => slow.wait()),
    )
    const { url, gateway } = await gatewayOver(pipeline, {
      maxInflightPerConnection: 50,
      maxEventsPerFrame: 20,
    })
    const client = await connect(url)
    await client.next()
    const type = `bp.cap.${uniqueId().slice(2, 10)}`
    for (let f = 0; f < 10; f++)
      client.send(Array.from({ length: 20 }, (_, i) => ({ id: `${type}-${f}-${i}`, type })))
    await until(() => gateway.stats().heldFrames > 0)
    expect(gateway.stats()).toMatchObject({ inflightEvents: 40, pausedConnections: 1 }) // two frames of 20; a third would pass 50
    slow.open()
    await client.receivedAtLeast(11)
    expect(client.received.slice(1).map((m) => [m.op, m.seq])).toEqual(
      Array.from({ length: 10 }, (_, f) => ['ack', f + 1]),
    )
    expect(
      client.received
        .slice(1)
        .flatMap(statuses)
        .every((s) => s === 'accepted'),
    ).toBe(true)
    expect(await storage.sink.count({ type })).toBe(200)
    await client.close()
  })

  it('stops reading a peer that does not read its replies, and reads it again once they drain', async () => {
    const { sink, count } = countingSink()
    const { url, gateway } = await gatewayOver(pipelineOver(storage, sink), {
      sendHighWaterBytes: 64 * 1024,
    })
    const client = await connect(url)
    await client.next()
    const type = `bp.out.${uniqueId().slice(2, 10)}`
    const frame = (f: number) =>
      client.send(Array.from({ length: 1000 }, (_, i) => ({ id: `${type}-${f}-${i}`, type })))
    // The peer stops reading: its acks (about 40 KB a frame) fill the socket buffers, then back up in Sluice.
    const peer = (client.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket
    peer.pause()
    let sent = 0
    while (gateway.stats().pausedConnections === 0 && sent < 2000) {
      frame(sent++)
      await sleep(2)
    }
    expect(gateway.stats().pausedConnections).toBe(1)
    // Sent while it is not read; once every frame read before has settled, only the socket's
    // drain can get these read.
    for (let more = 0; more < 5; more++) frame(sent++)
    await until(() => gateway.stats().inflightEvents === 0)
    await sleep(50)
    expect(gateway.stats().pausedConnections).toBe(1)
    peer.resume()
    await client.receivedAtLeast(sent + 1, 30_000)
    expect(client.received.slice(1).map((m) => [m.op, m.seq])).toEqual(
      Array.from({ length: sent }, (_, f) => ['ack', f + 1]),
    )
    expect(count(type)).toBe(sent * 1000)
    await until(() => gateway.stats().pausedConnections === 0)
    await client.close()
  })

  it('stops reading a peer whose replies wait behind a slow frame once they reach the cap, and answers them all in order', async () => {
    const slow = gate()
    gates.push(slow.open)
    const pipeline = pipelineOver(
      storage,
      heldSink(storage.sink, () => slow.wait()),
    )
    const { url, gateway } = await gatewayOver(pipeline, {
      maxInflightPerConnection: 50,
      maxEventsPerFrame: 10,
    })
    const client = await connect(url)
    await client.next()
    client.send([{ type: 'bp.first' }])
    for (let i = 0; i < 200; i++) client.send({ op: 'ping' })
    await until(() => gateway.stats().pausedConnections === 1)
    await sleep(50)
    expect(client.received).toHaveLength(1)
    slow.open()
    await client.receivedAtLeast(202)
    expect(client.received.slice(1).map((m) => `${m.op}:${m.seq}`)).toEqual([
      'ack:1',
      ...Array.from({ length: 200 }, (_, i) => `pong:${i + 2}`),
    ])
    await client.close()
  })

  it('under a flood far faster than storage takes: stops reading, stays within its bounds, and acks and stores every event once', async () => {
    const run = uniqueId().slice(2, 10)
    const types = [`bp.flood.${run}.a`, `bp.flood.${run}.b`]
    const events = 20_000 // per flooding client, 1 KiB each
    const perFrame = 250
    const cap = 1000
    const stored = countingSink()
    // Storage slowed down: every insert waits 30 ms first (two at a time, 500 rows each). Two
    // floods at their per-connection cap (1,000 each) pass the high-water mark (1,500) together.
    const pipeline = pipelineOver(
      storage,
      heldSink(stored.sink, () => sleep(30)),
      {
        maxInflightEvents: 4000,
        highWater: 1500,
        lowWater: 800,
        insertBatchMaxRows: 500,
        insertConcurrency: 2,
      },
    )
    let pauses = 0
    const { url, gateway } = await gatewayOver(
      pipeline,
      { maxInflightPerConnection: cap, maxEventsPerFrame: perFrame },
      { readingPaused: () => pauses++ },
    )

    const seen = {
      admission: 0,
      connection: 0,
      atCap: 0,
      held: 0,
      pausedWhileOver: 0,
      readWhileOver: 0,
      heap: 0,
    }
    const baseline = memory()
    const sampler = setInterval(() => {
      const stats = gateway.stats()
      seen.admission = Math.max(seen.admission, pipeline.admission.inflight)
      seen.connection = Math.max(seen.connection, stats.largestConnectionInflight)
      if (stats.largestConnectionInflight === cap) seen.atCap++
      seen.held = Math.max(seen.held, stats.heldFrames)
      if (pipeline.admission.paused) {
        seen.pausedWhileOver++
        if (stats.pausedConnections < stats.connections) seen.readWhileOver++
      }
    }, 5)
    // Memory once every 200 ms (each reading is a full collection).
    const weigher = setInterval(() => (seen.heap = Math.max(seen.heap, memory() - baseline)), 200)
    closers.push(async () => (clearInterval(sampler), clearInterval(weigher)))

    const started = Date.now()
    const floods = Promise.all(
      types.map((type) => runFloodClient(url, type, events, perFrame, 1024)),
    )
    // Meanwhile a light client is not starved: its frames are acked while the floods go on.
    const light = await connect(url)
    await light.next()
    for (let i = 0; i < 10; i++) {
      light.send([{ type: 'bp.light' }])
      expect(statuses(await light.next(20_000))).toEqual(['accepted'])
    }
    const lightDoneAt = Date.now()
    const summaries = await floods
    const floodsDoneAt = Date.now()
    clearInterval(sampler)
    clearInterval(weigher)

    for (const [index, summary] of summaries.entries()) {
      expect(summary.problem).toBeUndefined()
      expect(summary).toMatchObject({
        frames: events / perFrame,
        acked: events / perFrame,
        ackedEvents: events,
        outOfOrder: 0,
        statuses: { accepted: events },
      })
      // Every event stored exactly once.
      expect(stored.count(types[index])).toBe(events)
      // The pushback reached the sender: megabytes still unsent while the server worked through the first half.
      expect(summary.maxUnsentEarly).toBeGreaterThan(4 * 1024 * 1024)
    }
    expect(lightDoneAt).toBeLessThan(floodsDoneAt)
    // The bounds held: admission, each connection's cap (reached, never passed), and at most a few
    // frames parsed from the last chunk read before a pause.
    expect(seen.admission).toBeLessThanOrEqual(4000)
    expect(seen.connection).toBe(cap)
    expect(seen.atCap).toBeGreaterThan(0)
    expect(seen.held).toBeLessThanOrEqual(4)
    // Over the high-water mark, no socket was being read.
    expect(pauses).toBeGreaterThan(0)
    expect(seen.pausedWhileOver).toBeGreaterThan(0)
    expect(seen.readWhileOver).toBe(0)
    console.info(
      `flood: 2 × ${events} events (${Math.round((2 * events * 1.1) / 1024)} MiB) in ${floodsDoneAt - started} ms; peak admission ${seen.admission}, per connection ${seen.connection}, held frames ${seen.held}; ` +
        `client unsent ≥ ${summaries.map((s) => (s.maxUnsentEarly / 1048576).toFixed(1)).join(' / ')} MiB; server heap+buffers peak +${(seen.heap / 1048576).toFixed(1)} MiB`,
    )
    // Flat memory: what the server holds (after a full collection) stays far below what was sent
    // (43 MiB): the backlog stays with the senders.
    expect(seen.heap).toBeLessThan(24 * 1024 * 1024)
    await light.close()
  }, 60_000)
})

// A full collection before each reading, so that it counts what is held, not garbage not yet collected.
v8.setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const memory = () => {
  gc()
  const { heapUsed, arrayBuffers } = process.memoryUsage()
  return heapUsed + arrayBuffers
}

interface FloodSummary {
  problem?: string
  frames: number
  acked: number
  ackedEvents: number
  outOfOrder: number
  statuses: Record<string, number>
  maxUnsentEarly: number
  elapsedMs: number
}

function runFloodClient(
  url: string,
  type: string,
  events: number,
  perFrame: number,
  propertyBytes: number,
): Promise<FloodSummary> {
  const script = fileURLToPath(new URL('./fixtures/flood-client.ts', import.meta.url))
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', script, url, type, String(events), String(perFrame), String(propertyBytes)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!) as FloodSummary)
      } catch {
        reject(new Error(`flood client printed no summary: ${out}`))
      }
    })
  })
}
