import { defer, from, lastValueFrom } from 'rxjs'
import { WebSocket, type ClientOptions } from 'ws'
import {
  createWsGateway,
  type WsGateway,
  type WsGatewayOptions,
  type WsTelemetry,
} from '../../../src/adapters/ws/index.js'
import type { AcceptedEvent } from '../../../src/streams/event.js'
import {
  createPipeline,
  type Pipeline,
  type PipelineConfig,
} from '../../../src/streams/pipeline.js'
import type { DedupeStore, EventSink } from '../../../src/streams/ports.js'
import {
  createMemoryDedupeStore,
  createMemoryStorage,
  type MemoryStorage,
} from '../../../src/testing.js'
import { silent } from '../../support/services.js'

/**
 * Storage and dedupe for the gateway's pipeline: the fakes of sluice/testing, since what these tests
 * watch is the WebSocket protocol, not the storage (the ingest contract runs it on real servers).
 */
export interface Storage {
  readonly sink: MemoryStorage
  readonly store: DedupeStore
  dispose(): Promise<void>
}

export async function fakeStorage(): Promise<Storage> {
  return {
    sink: createMemoryStorage(),
    store: createMemoryDedupeStore({
      ttlSeconds: 600,
      reservationSeconds: 30,
      maxEntries: 1_000_000,
    }),
    dispose: async () => {},
  }
}

export const PIPELINE: PipelineConfig = {
  insertBatchMaxRows: 1000,
  insertBatchMaxWaitMs: 5,
  insertConcurrency: 2,
  maxInflightEvents: 100_000,
  retry: { initialMs: 20, maxMs: 100, budgetMs: 2000 },
}

export function pipelineOver(
  storage: Storage,
  sink: EventSink = storage.sink,
  config: Partial<PipelineConfig> = {},
): Pipeline {
  return createPipeline({ ...PIPELINE, ...config }, { sink, store: storage.store })
}

/**
 * The real sink, with a hook in front of every write: return a promise to hold that write until it
 * resolves (to slow ClickHouse down, or to make a later batch commit first).
 */
export function heldSink(
  real: EventSink,
  hold: (events: readonly AcceptedEvent[]) => Promise<unknown> | undefined,
): EventSink {
  return {
    write: (rows) =>
      defer(async () => {
        await hold(rows.map((row) => row.event))
        await lastValueFrom(from(real.write(rows)), { defaultValue: undefined })
      }),
    isRetriable: (error) => real.isRetriable(error),
  }
}

/** A gate: `wait()` promises that resolve once `open()` is called. */
export function gate() {
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return { wait: () => opened, open }
}

export interface Running {
  readonly gateway: WsGateway
  readonly port: number
  readonly url: string
}

export async function startGateway(
  pipeline: Pipeline,
  options: WsGatewayOptions = {},
  telemetry?: WsTelemetry,
): Promise<Running> {
  const gateway = createWsGateway(
    { port: 0, host: '127.0.0.1', ...options },
    { pipeline, logger: silent, telemetry },
  )
  const { port } = await gateway.listen()
  return { gateway, port, url: `ws://127.0.0.1:${port}` }
}

export type Message = { op: string; seq?: number; [key: string]: any }

/** A real `ws` client that records what it receives, in order, and lets a test await it. */
export interface Client {
  readonly ws: WebSocket
  readonly received: Message[]
  /** the next message not yet taken by `next()` */
  next(timeoutMs?: number): Promise<Message>
  /** the first message received with this op (waiting for it if need be) */
  firstOf(op: string, timeoutMs?: number): Promise<Message>
  /** waits until `count` messages have arrived in all */
  receivedAtLeast(count: number, timeoutMs?: number): Promise<Message[]>
  send(value: unknown): void
  readonly closed: Promise<{ code: number; reason: string }>
  close(): Promise<void>
}

export function connect(url: string, options: ClientOptions = {}): Promise<Client> {
  const ws = new WebSocket(url, options)
  const received: Message[] = []
  let taken = 0
  const listeners = new Set<() => void>()
  ws.on('message', (data) => {
    received.push(JSON.parse(data.toString()) as Message)
    for (const listener of listeners) listener()
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  )

  function until<T>(ready: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const now = ready()
    if (now !== undefined) return Promise.resolve(now)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        listeners.delete(check)
        reject(
          new Error(
            `timed out waiting for ${what}; received ${JSON.stringify(received).slice(0, 2000)}`,
          ),
        )
      }, timeoutMs)
      function check() {
        const value = ready()
        if (value === undefined) return
        clearTimeout(timer)
        listeners.delete(check)
        resolve(value)
      }
      listeners.add(check)
    })
  }

  const client: Client = {
    ws,
    received,
    next: (timeoutMs = 10_000) =>
      until(
        () => (taken < received.length ? received[taken++] : undefined),
        timeoutMs,
        'the next message',
      ),
    firstOf: (op, timeoutMs = 10_000) =>
      until(() => received.find((m) => m.op === op), timeoutMs, `a ${op} message`),
    receivedAtLeast: (count, timeoutMs = 20_000) =>
      until(
        () => (received.length >= count ? received : undefined),
        timeoutMs,
        `${count} messages`,
      ),
    send: (value) => ws.send(typeof value === 'string' ? value : JSON.stringify(value)),
    closed,
    async close() {
      if (ws.readyState !== WebSocket.CLOSED) ws.close()
      await closed
    },
  }
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client))
    ws.once('error', reject)
    ws.once('unexpected-response', (_request, response) =>
      reject(
        Object.assign(new Error(`upgrade refused: ${response.statusCode}`), {
          statusCode: response.statusCode,
        }),
      ),
    )
  })
}

/** The HTTP status an upgrade is refused with (or 101 when it is not). */
export function upgradeStatus(
  url: string,
  options: ClientOptions = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options)
    ws.once('open', () => {
      ws.terminate()
      resolve({ status: 101, body: '' })
    })
    ws.once('unexpected-response', (_request, response) => {
      let body = ''
      response.on('data', (chunk: Buffer) => (body += chunk.toString()))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
    })
    ws.once('error', (error) => {
      // After unexpected-response ws aborts the request; that error is expected.
      if (!/Unexpected server response|socket hang up/.test(error.message)) reject(error)
    })
  })
}

export const statuses = (message: Message | undefined): string[] =>
  (message?.results as Array<{ status: string }>).map((r) => r.status)

export { sleep, until } from '../../support/wait.js'
