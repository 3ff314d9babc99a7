import { randomUUID } from 'node:crypto'
import { connect } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { SLOW_CLIENT_TIMEOUTS } from '../../src/wire/slow-client-timeouts.js'
import { CLICKHOUSE_URL, dropDatabase, REDIS_URL } from '../support/services.js'
import { launch, metric, type Instance } from './support/instance.js'
import { post, sleep } from './support/load.js'
import { privateDatabase, readStored } from './support/stored.js'

// Issue 7.6, slow-drip requests (slowloris): a client that sends its headers or its body a byte at
// a time is cut off by a header or request timeout (REST port and WebSocket upgrades), and one that
// drips a WebSocket frame by the heartbeat; meanwhile everyone else is served.

const database = privateDatabase('slow')
const PING_MS = 500
let sluice: Instance | undefined
afterAll(async () => {
  await sluice?.stop('SIGKILL')
  await dropDatabase(database)
})

/** Opens a raw connection, writes `head`, then one `piece` every `everyMs` until the server closes it (or `capMs`). */
function drip(
  port: number,
  head: string | Buffer,
  piece: string | Buffer,
  everyMs: number,
  capMs = 60_000,
): Promise<{ ms: number; answer: string }> {
  return new Promise((resolve) => {
    const started = Date.now()
    const socket = connect(port, '127.0.0.1')
    let answer = ''
    let timer: NodeJS.Timeout | undefined
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')))
    socket.on('error', () => {})
    socket.on('close', () => (clearInterval(timer), resolve({ ms: Date.now() - started, answer })))
    socket.once('connect', () => {
      socket.write(head)
      timer = setInterval(() => {
        if (Date.now() - started > capMs) return socket.destroy()
        if (socket.writable) socket.write(piece)
      }, everyMs)
    })
  })
}

/** The opening handshake of a WebSocket client. */
function wsHandshake(): string {
  return 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
}
/** The head of a masked text frame of 1000 bytes (FIN, opcode 1; mask bit, 16-bit length; mask key). */
const FRAME_HEAD = Buffer.from([0x81, 0x80 | 126, 0x03, 0xe8, 1, 2, 3, 4])

describe('slow-drip clients', () => {
  it('are cut off by the header and request timeouts and the WebSocket heartbeat, while other clients are served', async () => {
    sluice = await launch({
      REDIS_URL,
      CLICKHOUSE_URL,
      CLICKHOUSE_DATABASE: database,
      WS_PING_INTERVAL_MS: String(PING_MS),
      INSERT_BATCH_MAX_WAIT_MS: '5',
    })
    const rest = Number(new URL(sluice.url).port)
    const ws = Number(new URL(sluice.wsUrl).port)
    const id = (label: string) => `slow-${label}-${randomUUID()}`
    const dripped = id('body')

    const slow = Promise.all([
      ...Array.from({ length: 10 }, () =>
        drip(rest, 'POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n', 'X-Drip: 1\r\n', 500),
      ),
      ...Array.from({ length: 5 }, () =>
        drip(
          ws,
          'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n',
          'X-Drip: 1\r\n',
          500,
        ),
      ),
    ])
    const bodies = Promise.all(
      Array.from({ length: 5 }, () =>
        drip(
          rest,
          `POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"id":"${dripped}","type":"slow.drip","properties":{"pad":"`,
          'a',
          500,
        ),
      ),
    )
    // A frame dripped after the handshake: the head now, then a payload byte every 200 ms.
    const frameDrip = new Promise<{ ms: number; answer: string }>((resolve) => {
      const started = Date.now()
      const socket = connect(ws, '127.0.0.1')
      let answer = ''
      let timer: NodeJS.Timeout | undefined
      socket.on('error', () => {})
      socket.on('data', (chunk: Buffer) => {
        answer += chunk.toString('latin1')
        if (timer === undefined && answer.includes('\r\n\r\n')) {
          socket.write(FRAME_HEAD)
          timer = setInterval(() => socket.writable && socket.write('a'), 200)
        }
      })
      socket.on(
        'close',
        () => (clearInterval(timer), resolve({ ms: Date.now() - started, answer })),
      )
      socket.once('connect', () => socket.write(wsHandshake()))
    })

    // Everyone else is served meanwhile.
    for (let i = 0; i < 5; i++) {
      const answer = await post(sluice.url, '/v1/events', { id: id('served'), type: 'slow.served' })
      expect(answer.status).toBe(202)
      await sleep(300)
    }

    const headerBound =
      SLOW_CLIENT_TIMEOUTS.headersTimeout +
      2 * SLOW_CLIENT_TIMEOUTS.connectionsCheckingInterval +
      3000
    const requestBound =
      SLOW_CLIENT_TIMEOUTS.requestTimeout +
      2 * SLOW_CLIENT_TIMEOUTS.connectionsCheckingInterval +
      5000
    for (const { ms, answer } of await slow) {
      expect(answer).toMatch(/^HTTP\/1\.1 408 /)
      expect(ms).toBeLessThan(headerBound)
    }
    const framed = await frameDrip
    expect(framed.answer).toMatch(/^HTTP\/1\.1 101 /)
    expect(framed.ms).toBeLessThan(20 * PING_MS)
    for (const { ms, answer } of await bodies) {
      expect(answer === '' || /^HTTP\/1\.1 (408|400) /.test(answer), answer).toBe(true)
      expect(ms).toBeLessThan(requestBound)
    }
    console.info(
      `slow clients: header drips cut after ${(await slow).map((r) => r.ms).join(', ')} ms; body drips after ${(await bodies).map((r) => r.ms).join(', ')} ms; frame drip after ${framed.ms} ms`,
    )

    // Nothing of a dripped body was taken, and the process holds nothing for them.
    expect((await readStored(CLICKHOUSE_URL, database)).final.has(dripped)).toBe(false)
    const values = await sluice.metrics()
    expect(metric(values, 'sluice_events_in_flight')).toBe(0)
    expect(metric(values, 'sluice_ws_connections')).toBe(0)
    expect(metric(values, 'sluice_ws_peers_timed_out_total')).toBeGreaterThan(0)
    expect(sluice.alive).toBe(true)
  }, 60_000)
})
