import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, describe, expect, it } from 'vitest'
import { createMemoryDedupeStore } from '../../../src/adapters/memory/memory-dedupe-store.js'
import { createPipeline } from '../../../src/streams/pipeline.js'
import { createFakeSink } from '../../../src/testing/fake-sink.js'
import { sleep, startGateway, until, type Running } from './support.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const CONNECTIONS = 1000
const KB = 1024

const pipeline = createPipeline(
  {
    insertBatchMaxRows: 100,
    insertBatchMaxWaitMs: 5,
    insertConcurrency: 1,
    maxInflightEvents: 1000,
    retry: { initialMs: 1, maxMs: 1, budgetMs: 10 },
  },
  {
    sink: createFakeSink(),
    store: createMemoryDedupeStore({ ttlSeconds: 60, reservationSeconds: 60, maxEntries: 1000 }),
  },
)
const running: Running[] = []
afterAll(async () => {
  await Promise.all(running.map((r) => r.gateway.close()))
  await pipeline.drain()
})

/** RSS after a full GC: the median of 7 samples, so that one allocation in flight does not decide. */
async function settledRss(): Promise<number> {
  const samples: number[] = []
  for (let i = 0; i < 7; i++) {
    gc()
    await sleep(30)
    samples.push(process.memoryUsage().rss)
  }
  return samples.sort((a, b) => a - b)[3]!
}

/** The server's RSS per connection with `CONNECTIONS` idle clients (in a process of their own) connected. */
async function perIdleConnection(
  perMessageDeflate: boolean,
): Promise<{ bytes: number; extensions: string }> {
  const server = await startGateway(pipeline, {
    perMessageDeflate,
    pingIntervalMs: 600_000,
    maxConnections: 2 * CONNECTIONS,
  })
  running.push(server)
  let result = { bytes: 0, extensions: '' }
  // The first round warms up what every connection shares (ws's buffers, the registry's growth); the second is measured.
  for (const round of ['warm-up', 'measured']) {
    const clients = fork(fileURLToPath(new URL('./fixtures/idle-clients.ts', import.meta.url)), {
      execArgv: ['--import', 'tsx'],
    })
    const before = await settledRss()
    clients.send({ url: server.url, count: CONNECTIONS })
    const [opened] = (await once(clients, 'message')) as [{ opened: number; extensions: string }]
    expect(opened.opened).toBe(CONNECTIONS)
    await until(() => server.gateway.stats().connections === CONNECTIONS)
    const after = await settledRss()
    if (round === 'measured')
      result = { bytes: (after - before) / CONNECTIONS, extensions: opened.extensions }
    clients.send('close')
    await once(clients, 'exit')
    await until(() => server.gateway.stats().connections === 0)
  }
  return result
}

describe('per-message deflate', () => {
  it('costs an idle connection at most ~30 KB (ws’s defaults cost ~215 KB: a deflate context for the welcome)', async () => {
    const off = await perIdleConnection(false)
    const on = await perIdleConnection(true)
    console.info(
      `1,000 idle connections: ${(off.bytes / KB).toFixed(1)} KB each without deflate, ${(on.bytes / KB).toFixed(1)} KB with it`,
    )
    expect(on.extensions).toMatch(/permessage-deflate/)
    expect(on.bytes).toBeLessThan(30 * KB)
  }, 120_000)
})
