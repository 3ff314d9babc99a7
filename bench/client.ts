/**
 * One load-generating process of the bench: drives Sluice (or the baseline) over real sockets and
 * reports what it sent, what came back, and the ack latency of every frame or request.
 *
 * Closed loop (no `rate`): each connection keeps `window` frames in flight — full load.
 * Open loop (`rate` events/s): frames go out on a schedule whatever the answers — a fixed load.
 */
import { Agent, request } from 'node:http'
import type { Duplex } from 'node:stream'
import WebSocket from 'ws'
import { eventSource } from './events.js'
import { sluiceClientSender } from './sluice-client.js'

export interface ClientJob {
  /** `segment`: the same events as Segment `track` messages to the drop-in `/v1/batch` (API.md §9) */
  readonly transport: 'rest' | 'ws' | 'segment'
  /** http://host:port for REST and Segment, ws://host:port for WS */
  readonly url: string
  readonly runId: string
  readonly client: number
  readonly connections: number
  readonly eventsPerFrame: number
  readonly totalEvents: number
  /** frames in flight per WS connection (REST: always one request per connection) */
  readonly window: number
  readonly rate?: number
  readonly duplicateRate?: number
  /** WS through sluice/client (bench/sluice-client.ts) instead of the bench's own frame writer */
  readonly viaClient?: boolean
}

export interface ClientReport {
  readonly sent: number
  readonly statuses: Record<string, number>
  /** per frame or request, ms */
  readonly latencies: number[]
  readonly startedAt: number
  readonly endedAt: number
  readonly errors: string[]
  /** performance.timeOrigin, so that reports of several processes share one clock */
  readonly timeOrigin: number
  /** CPU this client process spent on the job (user + system) */
  readonly cpuSeconds: number
}

type Send = (frame: unknown[], done: (statuses: string[] | Error) => void) => void

async function run(job: ClientJob): Promise<ClientReport> {
  const source = eventSource(job.runId, job.client, job.duplicateRate)
  const statuses: Record<string, number> = {}
  const latencies: number[] = []
  const errors: string[] = []
  const senders = await Promise.all(
    Array.from({ length: job.connections }, async () =>
      job.transport === 'ws'
        ? job.viaClient
          ? sluiceClientSender(job.url)
          : wsSender(job.url)
        : restSender(job.url, job.connections, job.transport === 'segment' ? SEGMENT : REST),
    ),
  )
  const frames = Math.ceil(job.totalEvents / job.eventsPerFrame)
  let next = 0
  let answered = 0
  const startedAt = performance.now()
  const cpuAtStart = process.cpuUsage()

  await new Promise<void>((resolve) => {
    const sendOne = (sender: Send, onDone?: () => void) => {
      if (next >= frames) return false
      const first = next++ * job.eventsPerFrame
      const frame = Array.from(
        { length: Math.min(job.eventsPerFrame, job.totalEvents - first) },
        (_, i) => source.event(first + i),
      )
      const sentAt = performance.now()
      sender(frame, (result) => {
        latencies.push(performance.now() - sentAt)
        if (result instanceof Error) {
          if (errors.length < 20) errors.push(result.message)
        } else for (const status of result) statuses[status] = (statuses[status] ?? 0) + 1
        if (++answered === frames) resolve()
        onDone?.()
      })
      return true
    }
    if (job.rate === undefined) {
      // Full load: refill each connection's window as answers come back.
      const perConnection = job.transport === 'ws' ? job.window : 1
      senders.forEach((sender) => {
        const refill = () => void sendOne(sender, refill)
        for (let i = 0; i < perConnection; i++) refill()
      })
    } else {
      // Fixed load: frames due by now go out, round robin over the connections.
      const framesPerMs = job.rate / job.eventsPerFrame / 1000
      let round = 0
      const timer = setInterval(() => {
        const due = Math.floor((performance.now() - startedAt) * framesPerMs) - next
        for (let i = 0; i < due; i++)
          if (!sendOne(senders[round++ % senders.length]!)) return clearInterval(timer)
      }, 5)
    }
  })
  const endedAt = performance.now()
  await Promise.all(
    senders.flatMap((sender) => (sender as Send & { close?: () => Promise<void> }).close?.() ?? []),
  )
  return {
    sent: job.totalEvents,
    statuses,
    latencies,
    startedAt,
    endedAt,
    errors,
    timeOrigin: performance.timeOrigin,
    cpuSeconds: cpuSecondsSince(cpuAtStart),
  }
}

/** Where a batch of events goes over HTTP, and in what body. */
interface HttpBatch {
  readonly path: string
  body(events: readonly unknown[]): string
}

const REST: HttpBatch = { path: '/v1/events/batch', body: (events) => JSON.stringify({ events }) }

/** The events as @segment/analytics-node sends tracks: one batch, a messageId each, sentAt stamped at sending. */
const SEGMENT: HttpBatch = {
  path: '/v1/batch',
  body: (events) =>
    JSON.stringify({
      batch: (events as Array<Record<string, unknown>>).map((event) => ({
        type: 'track',
        messageId: event.id,
        event: event.type,
        userId: event.userId,
        timestamp: new Date(event.timestamp as number).toISOString(),
        properties: event.properties,
        context: { library: { name: 'bench', version: '1' } },
      })),
      sentAt: new Date().toISOString(),
    }),
}

function restSender(base: string, connections: number, target: HttpBatch): Send {
  const url = new URL(target.path, base)
  const agent = new Agent({ keepAlive: true, maxSockets: connections })
  return (frame, done) => {
    const body = target.body(frame)
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => {
          if (res.statusCode !== 200)
            return done(
              new Error(
                `HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 200)}`,
              ),
            )
          const { results } = JSON.parse(Buffer.concat(chunks).toString()) as {
            results: Array<{ status: string }>
          }
          done(results.map((r) => r.status))
        })
      },
    )
    req.on('error', (error) => done(error))
    req.end(body)
  }
}

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start)
  return (used.user + used.system) / 1e6
}

async function wsSender(url: string): Promise<Send> {
  const socket = new WebSocket(url, { perMessageDeflate: false })
  const pending = new Map<number, (statuses: string[] | Error) => void>()
  let seq = 0
  await new Promise<void>((resolve, reject) => {
    socket.once('message', () => resolve()) // the welcome
    socket.once('error', reject)
  })
  socket.on('message', (data) => {
    const message = JSON.parse(data.toString()) as {
      op: string
      seq: number
      results?: Array<{ status: string }>
      message?: string
    }
    const done = pending.get(message.seq)
    if (!done) return
    pending.delete(message.seq)
    done(
      message.op === 'ack'
        ? message.results!.map((r) => r.status)
        : new Error(`${message.op}: ${message.message}`),
    )
  })
  socket.on('close', () => {
    for (const done of pending.values()) done(new Error('connection closed'))
    pending.clear()
  })
  // The frames sent in one turn of the event loop go out in one write, as Sluice's acks do: one ack
  // refills many frames at once, and a write (a system call) per frame would make the load
  // generator, which shares the machine's two cores with Sluice, its own bottleneck.
  const tcp = (socket as unknown as { _socket: Duplex })._socket
  let corked = false
  const uncork = () => ((corked = false), tcp.uncork())
  const send: Send & { close?: () => Promise<void> } = (frame, done) => {
    pending.set(++seq, done)
    if (!corked) {
      corked = true
      tcp.cork()
      process.nextTick(uncork)
    }
    socket.send(JSON.stringify(frame))
  }
  send.close = () =>
    new Promise((resolve) => (socket.once('close', () => resolve()), socket.close()))
  return send
}

process.once('message', (job: ClientJob) => {
  run(job).then(
    (report) => process.send!(report, () => process.exit(0)),
    (error: unknown) => process.send!({ error: String(error) }, () => process.exit(1)),
  )
})
