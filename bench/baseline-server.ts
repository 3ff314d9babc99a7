/**
 * The design Sluice replaces, for the bench: per event and in sequence — validate, Redis EXISTS,
 * a one-row INSERT, Redis SETEX — behind the same REST and WebSocket protocol, so that the same
 * clients drive it with the same events. It uses the same client libraries and table as Sluice.
 */
import { createServer } from 'node:http'
import { Redis } from 'ioredis'
import { from, lastValueFrom } from 'rxjs'
import { WebSocketServer } from 'ws'
import {
  createClickHouseClient,
  createClickHouseSink,
} from '../src/adapters/clickhouse/clickhouse-sink.js'
import { normalize } from '../src/streams/normalize.js'

const redis = new Redis(process.env.REDIS_URL!)
const sink = createClickHouseSink({
  client: await createClickHouseClient({ url: process.env.CLICKHOUSE_URL! }),
  database: process.env.CLICKHOUSE_DATABASE!,
})
await sink.start()

async function handle(
  events: unknown[],
  transport: 'rest' | 'ws',
): Promise<Array<{ index: number; id?: string; status: string }>> {
  const results = []
  for (const [index, raw] of events.entries()) {
    const checked = normalize(raw, { transport, receivedAt: Date.now() })
    if (!checked.ok) {
      results.push({ index, status: 'rejected' })
      continue
    }
    const key = `baseline:dedupe:${checked.event.id}`
    if (await redis.exists(key)) {
      results.push({ index, id: checked.event.id, status: 'duplicate' })
      continue
    }
    await lastValueFrom(from(sink.write([{ event: checked.event }])), { defaultValue: undefined })
    await redis.setex(key, 3600, '1')
    results.push({ index, id: checked.event.id, status: 'accepted' })
  }
  return results
}

async function answer(body: Buffer): Promise<unknown[]> {
  const { events } = JSON.parse(body.toString()) as { events: unknown[] }
  return handle(events, 'rest')
}

const http = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (chunk: Buffer) => chunks.push(chunk))
  req.on('end', () => {
    answer(Buffer.concat(chunks)).then(
      (results) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ results })),
      // An answer, so that the bench client counts a failure instead of waiting for ever.
      (error: unknown) =>
        res
          .writeHead(500, { 'content-type': 'text/plain' })
          .end(error instanceof Error ? error.message : String(error)),
    )
  })
})
const ws = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false })
ws.on('connection', (socket) => {
  socket.send(JSON.stringify({ op: 'welcome' }))
  let seq = 0
  let chain = Promise.resolve()
  socket.on('message', (data) => {
    const frameSeq = ++seq
    const events = JSON.parse(data.toString()) as unknown[]
    // One frame after another, one event after another: the hand-rolled service's order.
    chain = chain
      .then(async () =>
        socket.send(
          JSON.stringify({ op: 'ack', seq: frameSeq, results: await handle(events, 'ws') }),
        ),
      )
      // A failed frame is answered, and the frames after it still are: a rejected chain would skip them all.
      .catch((error: unknown) =>
        socket.send(
          JSON.stringify({
            op: 'error',
            seq: frameSeq,
            code: 'internal',
            message: error instanceof Error ? error.message : String(error),
          }),
        ),
      )
  })
})
http.listen(0, '127.0.0.1', () => {
  const address = http.address() as { port: number }
  process.stderr.write(
    `baseline listening: http :${address.port}, ws :${(ws.address() as { port: number }).port}\n`,
  )
})
process.on('SIGTERM', () => process.exit(0))
