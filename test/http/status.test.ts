import { asyncScheduler, throwError } from 'rxjs'
import { afterEach, describe, expect, it } from 'vitest'
import { DEAD_LETTERS_COUNTED } from '../../src/app/status-source.js'
import { StatusSchema } from '../../src/http/routes/status.js'
import { route } from '../../src/streams/routing/route.js'
import {
  createFakeDelivery,
  createFakeRouteOutbox,
  createMemoryDeadLetters,
} from '../../src/testing.js'
import { fakeSluice } from '../support/services.js'
import { until } from '../support/wait.js'

let sluice: Awaited<ReturnType<typeof fakeSluice>> | undefined
afterEach(async () => {
  await sluice?.dispose()
  sluice = undefined
})

const status = async (headers: Record<string, string> = {}) => {
  const response = await sluice!.app.request('/v1/status', { headers })
  return { status: response.status, body: (await response.json()) as any }
}

const send = (events: unknown[], headers: Record<string, string> = {}) =>
  sluice!.app.request('/v1/events/batch', {
    method: 'POST',
    body: JSON.stringify({ events }),
    headers: { 'content-type': 'application/json', ...headers },
  })

const letter = (route: string, i: number) => ({
  route,
  event: {
    id: `dl-${route}-${i}`,
    type: 'order.placed',
    timestamp: 1_800_000_000_000,
    receivedAt: 1_800_000_000_000,
    transport: 'rest' as const,
  },
  error: 'HTTP 503',
  attempts: 8,
  time: 1_800_000_000_000 + i,
})

describe('GET /v1/status', () => {
  it('answers in the documented shape, with the events answered by result and transport', async () => {
    sluice = await fakeSluice()
    await send([
      { id: 's-1', type: 'page_view' },
      { id: 's-1', type: 'page_view' },
      { id: 's-2', type: 'not a type' },
    ])
    const { status: code, body } = await status()
    expect(code).toBe(200)
    expect(StatusSchema.strict().safeParse(body).error).toBeUndefined()
    expect(body.events).toEqual({
      byResult: { accepted: 1, duplicate: 1, rejected: 1, failed: 0 },
      byTransport: { rest: 3 },
    })
    expect(body.inflight).toEqual({
      events: 0,
      maxEvents: 100_000,
      bytes: 0,
      maxBytes: 256 * 1024 * 1024,
      paused: false,
    })
    // not listening: no WebSocket port yet
    expect(body.ws).toEqual({ port: null, connections: 0, subscribers: 0 })
    expect(body.latency.ingestLagMs.samples).toBe(1)
    expect(body.latency.insertMs.samples).toBe(1)
    expect(body.readiness).toEqual({
      status: 'ready',
      checks: {
        redis: { status: 'ok', backend: 'in-process', latencyMs: expect.any(Number) },
        clickhouse: { status: 'ok', backend: 'given sink', latencyMs: expect.any(Number) },
      },
    })
    expect(Math.abs(body.time - Date.now())).toBeLessThan(60_000)
    expect(body.requestId).toEqual(expect.any(String))
  })

  it('says which WebSocket port to subscribe on once listening', async () => {
    sluice = await fakeSluice({ PORT: '0', HOST: '127.0.0.1' })
    const { wsPort } = await sluice.listen()
    expect((await status()).body.ws.port).toBe(wsPort)
  })

  it('needs the key when API_KEYS is set, as every /v1 read does; the console page stays open', async () => {
    sluice = await fakeSluice({ API_KEYS: 'ops=k1' })
    expect((await status()).status).toBe(401)
    expect((await status({ 'x-api-key': 'nope' })).status).toBe(401)
    expect((await status({ authorization: 'Bearer k1' })).status).toBe(200)
    expect((await status({ 'x-api-key': 'k1' })).status).toBe(200)
    const page = await sluice.app.request('/console')
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    const script = await sluice.app.request('/console/assets/console.js')
    expect(script.status).toBe(200)
  })

  it("merges each route's breaker and queue with its deliveries, and counts the dead letters stored by route", async () => {
    const deadLetters = createMemoryDeadLetters()
    for (let i = 0; i < 3; i++) deadLetters.rows.push({ ...letter('a', i), key: `a-${i}` })
    deadLetters.rows.push({ ...letter('gone', 0), key: 'gone-0' })
    const { delivery } = createFakeDelivery(asyncScheduler)
    sluice = await fakeSluice({}, undefined, {
      routes: [
        route({ name: 'a', match: ['order.*'], url: 'http://127.0.0.1:9/', batchMaxWaitMs: 1 }),
      ],
      delivery,
      outbox: createFakeRouteOutbox(),
      deadLetters,
    })
    await send([1, 2].map((i) => ({ id: `o-${i}`, type: 'order.placed' })))
    await until(async () => (await status()).body.routes[0]?.delivered === 2, 5000, 'delivered')
    const { body } = await status()
    expect(body.routes).toEqual([
      {
        name: 'a',
        breaker: 'closed',
        queued: 0,
        delivered: 2,
        batches: expect.any(Number),
        failures: 0,
        deadLettered: 0,
        replayed: 0,
      },
    ])
    // a route no longer configured keeps its letters, and is counted too
    expect(body.deadLetters).toEqual({ byRoute: { a: 3, gone: 1 }, truncated: false })
  })

  it('counts at most the newest dead letters, saying that the counts are lower bounds past them', async () => {
    const deadLetters = createMemoryDeadLetters()
    for (let i = 0; i < DEAD_LETTERS_COUNTED + 5; i++)
      deadLetters.rows.push({ ...letter('a', i), key: `a-${String(i).padStart(6, '0')}` })
    sluice = await fakeSluice({}, undefined, { deadLetters })
    expect((await status()).body.deadLetters).toEqual({
      byRoute: { a: DEAD_LETTERS_COUNTED },
      truncated: true,
    })
  })

  it('reuses a count of dead letters for a few seconds, and says so when they cannot be read', async () => {
    const deadLetters = createMemoryDeadLetters()
    let lists = 0
    let failing = false
    const list = deadLetters.list.bind(deadLetters)
    deadLetters.list = (query) => {
      lists++
      return failing ? throwError(() => new Error('ClickHouse is away\nat …')) : list(query)
    }
    sluice = await fakeSluice({}, undefined, { deadLetters })
    await status()
    await status()
    await status()
    expect(lists).toBe(1)

    // within the cache time the store is not asked again, failing or not
    failing = true
    expect((await status()).body.deadLetters.error).toBeUndefined()
    expect(lists).toBe(1)
  })

  it('reports dead letters that cannot be counted, and asks again on the next request', async () => {
    const deadLetters = createMemoryDeadLetters()
    let lists = 0
    deadLetters.list = () => {
      lists++
      return throwError(() => new Error('ClickHouse is away\nat …'))
    }
    sluice = await fakeSluice({}, undefined, { deadLetters })
    const first = await status()
    expect(first.status).toBe(200)
    expect(first.body.deadLetters).toEqual({
      byRoute: {},
      truncated: false,
      error: 'ClickHouse is away',
    })
    await status()
    expect(lists).toBe(2)
  })

  it('answers another method with 405', async () => {
    sluice = await fakeSluice()
    const response = await sluice.app.request('/v1/status', { method: 'POST' })
    expect(response.status).toBe(405)
    expect(response.headers.get('allow')).toBe('GET')
  })
})

describe('GET /console and its assets', () => {
  it('serves the page under a policy that allows only Sluice itself and its WebSocket port', async () => {
    sluice = await fakeSluice({ PORT: '0', HOST: '127.0.0.1' })
    const { port, wsPort } = await sluice.listen()
    const response = await fetch(`http://127.0.0.1:${port}/console`)
    expect(response.status).toBe(200)
    const policy = response.headers.get('content-security-policy')!
    expect(policy).toContain("script-src 'self';")
    expect(policy).toContain(
      `connect-src 'self' ws://127.0.0.1:${wsPort} wss://127.0.0.1:${wsPort};`,
    )
    expect(policy).toContain("frame-ancestors 'none'")
    expect(policy).not.toContain('unsafe-inline')
    expect(response.headers.get('x-frame-options')).toBe('DENY')
    const html = await response.text()
    // no inline script: the page's code is a module of its own
    expect(html).toMatch(/<script type="module" src="console\/assets\/console.js"><\/script>/)
    expect(html).not.toMatch(/<script>/)
  })

  it('serves uPlot from node_modules, and nothing else under its assets', async () => {
    sluice = await fakeSluice()
    for (const [file, type] of [
      ['uplot/uPlot.esm.js', 'text/javascript; charset=utf-8'],
      ['uplot/uPlot.min.css', 'text/css; charset=utf-8'],
      ['console.css', 'text/css; charset=utf-8'],
    ]) {
      const response = await sluice.app.request(`/console/assets/${file}`)
      expect(response.status, file).toBe(200)
      expect(response.headers.get('content-type')).toBe(type)
    }
    for (const file of [
      'console.html',
      'constructor',
      '__proto__',
      'uplot/uPlot.cjs.js',
      '..%2Fconsole.js',
    ])
      expect((await sluice.app.request(`/console/assets/${file}`)).status, file).toBe(404)
  })
})
