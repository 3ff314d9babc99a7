import { randomUUID } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startDownstream } from '../support/downstream.js'
import { CLICKHOUSE_URL, dropDatabase, REDIS_URL } from '../support/services.js'
import { launch, type Instance } from './support/instance.js'
import { eventSource, Ledger, restWorker, sleep, wsWorker } from './support/load.js'
import { privateDatabase, readStored } from './support/stored.js'

// Issue 7.4: SIGTERM under WS and REST load, with a route to a slow destination. No new work is
// taken, everything in flight settles and is acked, route deliveries are flushed or persisted (the
// outbox on Redis: a restart delivers the rest), and the process exits 0 inside SHUTDOWN_TIMEOUT_MS.

const SHUTDOWN_TIMEOUT_MS = 8000
const route = `shutdown-${randomUUID().slice(0, 8)}`
const database = privateDatabase('shutdown')
const instances: Instance[] = []
const closers: Array<() => Promise<unknown>> = []
afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.stop('SIGKILL')))
  for (const close of closers) await close()
  const redis = new Redis(REDIS_URL)
  await redis.del(`sluice:route:${route}`)
  await redis.quit()
  await dropDatabase(database)
})

/** A fresh TCP connection (no keep-alive pool): refused once the server stopped listening. */
function freshRequest(url: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request(
      `${url}/health`,
      { agent: false },
      (res) => (res.resume(), resolve(`answered ${res.statusCode}`)),
    )
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
    req.end()
  })
}

function freshUpgrade(url: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url)
    ws.once('open', () => (ws.terminate(), resolve('open')))
    ws.once('unexpected-response', (_req, res) => resolve(`refused ${res.statusCode}`))
    ws.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
  })
}

describe('graceful shutdown (SIGTERM) under load', () => {
  it('takes no new work, settles and acks everything in flight, keeps what routes have not delivered, and exits 0 in time', async () => {
    const destination = await startDownstream(() => ({ status: 200, delayMs: 300 }))
    closers.push(destination.close)
    const dir = await mkdtemp(join(tmpdir(), 'sluice-shutdown-'))
    closers.push(() => rm(dir, { recursive: true, force: true }))
    const routesFile = join(dir, 'routes.json')
    await writeFile(
      routesFile,
      JSON.stringify({
        routes: [
          {
            name: route,
            match: ['shutdown.*'],
            url: destination.url,
            batchMaxEvents: 50,
            batchMaxWaitMs: 50,
            concurrency: 1,
          },
        ],
      }),
    )
    const env = {
      REDIS_URL,
      CLICKHOUSE_URL,
      CLICKHOUSE_DATABASE: database,
      ROUTES_FILE: routesFile,
      ROUTE_CONSUMER: route,
      ROUTE_POLL_MS: '100',
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      INSERT_BATCH_MAX_WAIT_MS: '50',
    }
    const sluice = await launch(env)
    instances.push(sluice)
    const ledger = new Ledger()
    const next = eventSource(`shutdown-${randomUUID()}`, 'shutdown.load')
    const running = () => sluice.alive
    const workers = [
      restWorker({
        url: sluice.url,
        ledger,
        next: () => next(50),
        running,
        via: 'rest-1',
        pauseMs: 20,
      }),
      restWorker({
        url: sluice.url,
        ledger,
        next: () => next(50),
        running,
        via: 'rest-2',
        pauseMs: 20,
      }),
      restWorker({
        url: sluice.url,
        ledger,
        next: () => next(1),
        running,
        via: 'rest-single',
        single: true,
        pauseMs: 20,
      }),
    ]
    const sockets = [
      wsWorker({
        url: sluice.wsUrl,
        ledger,
        next: () => next(25),
        running,
        via: 'ws-1',
        window: 8,
        intervalMs: 30,
      }),
      wsWorker({
        url: sluice.wsUrl,
        ledger,
        next: () => next(25),
        running,
        via: 'ws-2',
        window: 8,
        intervalMs: 30,
      }),
    ]
    await sleep(1500)

    const signalled = Date.now()
    const exited = sluice.stop('SIGTERM')
    while (!sluice.logs().includes('shutting down')) await sleep(5)
    // From the moment it says so, it takes no new connection on either port.
    const [http, upgrade] = await Promise.all([
      freshRequest(sluice.url),
      freshUpgrade(sluice.wsUrl),
    ])
    expect(http).toBe('ECONNREFUSED')
    expect(upgrade).toMatch(/^(ECONNREFUSED|refused 503)$/)
    const code = await exited
    const tookMs = Date.now() - signalled
    const closes = await Promise.all(sockets)
    await Promise.all(workers)

    expect(code).toBe(0)
    expect(tookMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS)
    expect(closes.map((c) => c.closeCode)).toEqual([1001, 1001])
    expect(ledger.unexpected).toEqual([])
    expect(ledger.ever('failed')).toEqual([])

    // Everything in flight settled and its answer reached the client: what ClickHouse holds is
    // exactly what clients were told was accepted — nothing stored unacked, nothing acked unstored.
    const accepted = [...ledger.events.keys()].filter((id) => ledger.last(id) === 'accepted')
    const stored = await readStored(CLICKHOUSE_URL, database)
    expect(accepted.length).toBeGreaterThan(0)
    expect([...stored.final.keys()].sort()).toEqual([...accepted].sort())
    expect(stored.rawRows).toBe(accepted.length)

    // Route deliveries: what the slow destination had not taken by the deadline was kept, and the
    // next start delivers it. Every accepted event reaches the destination.
    const deliveredBefore = accepted.filter((id) => destination.delivered.has(id)).length
    console.info(
      `graceful shutdown: ${accepted.length} accepted, exit 0 after ${tookMs} ms, ${deliveredBefore} delivered before the exit, ${accepted.length - deliveredBefore} kept for the next start`,
    )
    expect(deliveredBefore).toBeLessThan(accepted.length)
    destination.answer(() => ({ status: 200 }))
    const restarted = await launch(env)
    instances.push(restarted)
    const deadline = Date.now() + 30_000
    while (accepted.some((id) => !destination.delivered.has(id)) && Date.now() < deadline)
      await sleep(100)
    expect(accepted.filter((id) => !destination.delivered.has(id))).toEqual([])
    expect(await restarted.stop('SIGTERM')).toBe(0)
  }, 90_000)
})
