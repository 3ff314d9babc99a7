import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { map, timer } from 'rxjs'
import { afterEach, describe, expect, it } from 'vitest'
import { createClient, type AcceptedEvent, type SluiceClient } from '../../src/client.js'
import { createMemoryStorage } from '../../src/testing.js'
import { fakeSluice, uniqueId } from '../support/services.js'
import { until } from '../support/wait.js'

// sluice/client against an in-process Sluice (storage in memory) over real sockets, on `ws`:
// Node 20 has no global WebSocket, so these also load `ws` the way a Node user's client does.

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
})

/**
 * `slowWritesMs`: every insert takes that long, and the rows are counted, not kept (so that the
 * test's heap is the client's and the server's, not a growing table).
 */
async function start(env: Record<string, string> = {}, slowWritesMs = 0) {
  const storage = Object.assign(createMemoryStorage(), { written: 0 })
  const sink =
    slowWritesMs === 0
      ? storage
      : {
          ...storage,
          write: (batch: Parameters<typeof storage.write>[0]) =>
            timer(slowWritesMs).pipe(map(() => void (storage.written += batch.length))),
        }
  const sluice = await fakeSluice({ HOST: '127.0.0.1', ...env }, undefined, { sink })
  const { wsPort } = await sluice.listen()
  stops.push(() => sluice.dispose())
  return { sluice, storage, url: `ws://127.0.0.1:${wsPort}` }
}

function client(options: Parameters<typeof createClient>[0]): SluiceClient {
  const made = createClient(options)
  stops.push(() => made.close())
  return made
}

describe('sluice/client against a running Sluice', () => {
  it('publishes, and gets each event its result: accepted, duplicate of an earlier send, rejected with the server’s errors', async () => {
    const { url, storage } = await start()
    const c = client({ url })
    const id = uniqueId('c')
    expect(await c.publish([{ id, type: 'page_view' }])).toEqual([
      { index: 0, id, status: 'accepted' },
    ])
    const results = await c.publish([
      { id, type: 'page_view' },
      { type: 'page view' },
      { type: 'signup', properties: { plan: 'pro' } },
    ])
    expect(results.map((r) => r.status)).toEqual(['duplicate', 'rejected', 'accepted'])
    expect(results[1]).toMatchObject({ errors: [{ path: 'type' }] })
    expect(storage.rows.map((row) => row.id).sort()).toEqual([id, results[2]!.id].sort())
  })

  it('subscribes: the accepted events of the types asked for arrive live, with their ids', async () => {
    const { url } = await start()
    const c = client({ url })
    const seen: AcceptedEvent[] = []
    const subscription = c.subscribe(['checkout.*'], (event) => seen.push(event))
    await subscription.ready
    const results = await c.publish([
      { type: 'checkout.completed', properties: { total: 12 } },
      { type: 'page_view' },
    ])
    await until(() => seen.length === 1, 5000, 'the event')
    expect(seen[0]).toMatchObject({
      id: results[0]!.id,
      type: 'checkout.completed',
      properties: { total: 12 },
    })
    expect(seen[0]!.receivedAt).toEqual(expect.any(String))
  })

  it('with API_KEYS set, sends the key as ?api_key=; a wrong key fails its events once the budget is over, saying why', async () => {
    const { url } = await start({ API_KEYS: 'app=k1' })
    const good = client({ url, apiKey: 'k1' })
    const [accepted] = await good.publish([{ type: 'page_view' }])
    expect(accepted!.status).toBe('accepted')
    const wrong = client({ url, apiKey: 'nope', retryBudgetMs: 300 })
    const [failed] = await wrong.publish([{ type: 'page_view' }])
    expect(failed).toMatchObject({ status: 'failed', message: expect.stringMatching(/401/) })
  })

  it('splits a publish larger than the server’s maxEventsPerFrame into frames and answers it whole', async () => {
    const { url, storage } = await start({ WS_MAX_EVENTS_PER_FRAME: '50' })
    const c = client({ url })
    const results = await c.publish(
      Array.from({ length: 420 }, (_, i) => ({ type: 'bulk', properties: { i } })),
    )
    expect(results.map((r) => r.index)).toEqual([...Array(420).keys()])
    expect(results.every((r) => r.status === 'accepted')).toBe(true)
    expect(storage.rows).toHaveLength(420)
  })

  it('backpressure: with slowed inserts and a small window, producers far faster than the commits are held to the window, and memory stays flat', async () => {
    const { url, sluice, storage } = await start({ INSERT_BATCH_MAX_ROWS: '100' }, 40)
    const window = 200
    const c = client({ url, maxInflightEvents: window })
    const total = 20_000
    const perPublish = 50
    let offered = 0
    let mostInflight = 0
    let mostOnServer = 0
    const heap: number[] = []
    // 20 producers, each publishing as soon as its last publish settled: 1,000 events offered at
    // any moment against a window of 200, while storage takes 100 rows per 40 ms at best.
    const producer = async () => {
      while (offered < total) {
        offered += perPublish
        const results = await c.publish(
          Array.from({ length: perPublish }, () => ({
            type: 'pressure',
            properties: { pad: 'x'.repeat(200) },
          })),
        )
        if (results.some((r) => r.status !== 'accepted')) throw new Error(JSON.stringify(results))
      }
    }
    const sampler = setInterval(() => {
      mostInflight = Math.max(mostInflight, c.stats().inflightEvents)
      mostOnServer = Math.max(mostOnServer, sluice.ws.stats().inflightEvents)
    }, 5)
    const heapSampler = setInterval(() => {
      gc()
      heap.push(process.memoryUsage().heapUsed)
    }, 500)
    try {
      await Promise.all(Array.from({ length: 20 }, producer))
    } finally {
      clearInterval(sampler)
      clearInterval(heapSampler)
    }
    expect(storage.written).toBe(total)
    expect(mostInflight).toBeGreaterThan(0)
    expect(mostInflight).toBeLessThanOrEqual(window)
    expect(mostOnServer).toBeLessThanOrEqual(window)
    // 20,000 events of ~300 bytes are ~6 MB: the heap must not grow with them (the rows are not
    // kept; a few MB of slack for the collector and the sockets).
    expect(heap.length).toBeGreaterThan(2)
    expect(heap.at(-1)! - heap[0]!).toBeLessThan(4 * 2 ** 20)
  })
})
