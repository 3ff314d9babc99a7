import { afterEach, describe, expect, it } from 'vitest'
import { createClient, type PublishResult } from '../../src/client.js'
import { fakeSluice } from '../support/services.js'
import { until } from '../support/wait.js'
import { stream } from './support/stream.js'
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js'

// Network faults between the client and Sluice, through a TCP proxy of the test: a connection cut
// without a close frame, and one that stalls (open, but no byte moves either way — only the
// client's heartbeat can tell). Either way every publish settles accepted and every event is
// stored exactly once.

const EVENTS = 4000
const PER_PUBLISH = 20

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Streams EVENTS through the proxy; `fault` strikes once a quarter is accepted. */
async function streamThrough(fault: (proxy: TcpProxy) => void) {
  const sluice = await fakeSluice({ HOST: '127.0.0.1' })
  cleanups.push(() => sluice.dispose())
  const { wsPort } = await sluice.listen()
  const proxy = await startTcpProxy(wsPort)
  cleanups.push(() => proxy.close())
  const client = createClient({
    url: `ws://127.0.0.1:${proxy.port}`,
    heartbeatIntervalMs: 200,
    heartbeatTimeoutMs: 1000,
    backoff: { initialMs: 20, maxMs: 200 },
  })
  cleanups.push(() => client.close())
  const streaming = stream(client, {
    events: EVENTS,
    perPublish: PER_PUBLISH,
    producers: 8,
    types: ['net.fault'],
    pauseMs: 2,
  })
  // a quarter accepted and frames unanswered now: the fault strikes before another answer is read
  await until(
    () => streaming.accepted() >= EVENTS / 4 && client.stats().unansweredFrames > 0,
    30_000,
    'a quarter accepted and frames in flight',
  )
  fault(proxy)
  const atFault = streaming.accepted()
  await streaming.done
  await client.close()
  return { results: streaming.results, atFault, client, proxy, rows: sluice.storage.rows }
}

function expectExactlyOnce(
  results: readonly PublishResult[],
  rows: ReadonlyArray<{ id: string }>,
): void {
  expect(results).toHaveLength(EVENTS)
  expect(results.filter((r) => r.status !== 'accepted')).toEqual([])
  const copies = new Map<string, number>()
  for (const { id } of rows) copies.set(id, (copies.get(id) ?? 0) + 1)
  expect(copies.size).toBe(EVENTS)
  expect(results.filter((r) => copies.get(r.id) !== 1)).toEqual([])
}

describe('sluice/client through network faults', () => {
  it('a connection cut without a close frame: reconnected, re-sent, each event stored once', async () => {
    const { results, atFault, client, proxy, rows } = await streamThrough((proxy) => proxy.cut())
    expect(atFault).toBeLessThan(EVENTS)
    expect(proxy.connections).toBeGreaterThan(1)
    expect(client.stats().resentEvents).toBeGreaterThan(0)
    expectExactlyOnce(results, rows)
  })

  it('a connection that stalls: the missed heartbeat gives it up, and the same holds', async () => {
    const { results, atFault, client, proxy, rows } = await streamThrough((proxy) => proxy.stall())
    expect(atFault).toBeLessThan(EVENTS)
    expect(proxy.connections).toBeGreaterThan(1)
    expect(client.stats().resentEvents).toBeGreaterThan(0)
    expectExactlyOnce(results, rows)
  })
})
