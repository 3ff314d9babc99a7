import { randomUUID } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { once } from 'node:events'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/app/config.js'
import { createSluice, type Sluice } from '../../src/app/create-sluice.js'
import { route } from '../../src/streams/routing/route.js'
import { launchChromium, type Browser } from '../support/browser.js'
import { startDownstream } from '../support/downstream.js'
import { fakeSluice, serverSluice, silent } from '../support/services.js'
import { sleep, until } from '../support/wait.js'

/**
 * The console at /console in headless Chromium, as an operator uses it: the flow numbers under a
 * load of REST posts, a test event sent with the page's form and seen in its live tail, a dead
 * route's letters and the replay button, the key prompt with API_KEYS, a restart of Sluice, a hidden
 * tab. Sluice runs in-process on the embedded defaults, on Redis and the ClickHouse server, and on
 * the in-memory fakes (for the restart on the same ports). The page is opened by a name the
 * browser resolves to 127.0.0.1, so "everything from Sluice itself" is checked for the page as it
 * is really served: every request goes to that one origin, the WebSocket to its WS port.
 *
 * docs/console.png is (re)written when it is missing or with UPDATE_SCREENSHOT=1.
 */

const HOST = 'console.sluice.test'
const SCREENSHOT = fileURLToPath(new URL('../../docs/console.png', import.meta.url))
/** the page polls GET /v1/status this often in the test (?refresh=, default 2000 ms) */
const REFRESH_MS = 500
/** a 2-core shared machine: Chromium's start and a page's first render can take seconds */
const UI_TIMEOUT_MS = 30_000
/** what a test waits for the page at most: a ceiling, never a measurement */
const WAIT_MS = 20_000

let browser: Browser | undefined

beforeAll(async () => {
  browser = await launchChromium({ hosts: [HOST], viewport: { width: 1280, height: 900 } })
  browser.context.setDefaultTimeout(UI_TIMEOUT_MS)
}, 120_000)

afterAll(async () => {
  await browser?.close()
}, 60_000)

/** A tab on the console of the Sluice listening on `port`, recording what it asks for. */
async function openConsole(port: number) {
  const origin = `http://${HOST}:${port}`
  const page = await browser!.context.newPage()
  const requests: string[] = []
  const sockets: string[] = []
  const errors: string[] = []
  page.on('request', (request) => requests.push(`${request.method()} ${request.url()}`))
  page.on('websocket', (socket) => sockets.push(socket.url()))
  page.on('pageerror', (error) => errors.push(error.message))
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`${message.text()} (${message.location().url})`)
  })
  const response = await page.goto(`${origin}/console?refresh=${REFRESH_MS}`, {
    timeout: UI_TIMEOUT_MS,
  })
  expect(response?.status()).toBe(200)
  const text = (id: string) =>
    page
      .getByTestId(id)
      .textContent({ timeout: 1000 })
      .catch(() => null)
  /** waits until the element `id` shows `expected` (exactly, or as the function judges it) */
  const shows = async (
    id: string,
    expected: string | ((text: string) => boolean),
    timeoutMs = WAIT_MS,
  ) => {
    const matches = (shown: string | null) =>
      shown !== null && (typeof expected === 'string' ? shown === expected : expected(shown))
    try {
      await until(async () => matches(await text(id)), timeoutMs, id, 50)
    } catch {
      throw new Error(`${id} shows ${JSON.stringify(await text(id))}, not ${String(expected)}`)
    }
  }
  return { page, origin, requests, sockets, errors, text, shows }
}

type Console = Awaited<ReturnType<typeof openConsole>>

/** Nothing but Sluice: the page's origin, and its WebSocket on the WS port of the same host. */
function expectOnlySluice(tab: Console, wsPort: number, expectedErrors?: RegExp): void {
  expect(tab.requests.length).toBeGreaterThan(0)
  expect(tab.requests.filter((r) => new URL(r.split(' ')[1]!).origin !== tab.origin)).toEqual([])
  expect(tab.requests).toEqual(
    expect.arrayContaining([
      `GET ${tab.origin}/console/assets/console.js`,
      `GET ${tab.origin}/console/assets/uplot/uPlot.esm.js`,
      `GET ${tab.origin}/v1/status`,
    ]),
  )
  expect(tab.sockets.length).toBeGreaterThan(0)
  for (const socket of tab.sockets) expect(new URL(socket).origin).toBe(`ws://${HOST}:${wsPort}`)
  // CSP violations, failed loads and script errors all land here
  expect(tab.errors.filter((error) => !expectedErrors?.test(error))).toEqual([])
}

async function post(base: string, path: string, body: unknown, key?: string) {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key && { authorization: `Bearer ${key}` }) },
    body: JSON.stringify(body),
  })
  return { status: response.status, body: (await response.json()) as any }
}

/** A test event through the page's form: its answer, read from the page. */
async function sendWithForm(tab: Console, type: string): Promise<{ status: number; id: string }> {
  await tab.page.getByTestId('send-type').fill(type)
  await tab.page.getByTestId('send-properties').fill('{ "from": "the console test" }')
  await tab.page.getByTestId('send-submit').click()
  await tab.shows('send-result', (text) => /^\d{3} /.test(text))
  const shown = (await tab.text('send-result'))!
  const body = JSON.parse(shown.slice(4)) as { id: string; status: string }
  expect(body.status).toBe('accepted')
  return { status: Number(shown.slice(0, 3)), id: body.id }
}

/** The tail holds the event with this id: expanded, it shows the event as accepted. */
async function expectInTail(tab: Console, id: string, type: string): Promise<void> {
  const item = tab.page.locator(`#tail li[data-id="${id}"]`)
  await item.waitFor({ timeout: WAIT_MS })
  await item.locator('summary').click()
  const shown = JSON.parse(await item.locator('pre').innerText()) as Record<string, unknown>
  expect(shown).toMatchObject({ id, type, properties: { from: 'the console test' } })
  expect(typeof shown.receivedAt).toBe('string')
}

describe('the console on the embedded defaults, without API_KEYS', { timeout: 180_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-e2e-console-'))
  let sluice: Sluice | undefined
  let local: string
  let wsPort: number
  let tab: Console

  beforeAll(async () => {
    sluice = await createSluice(
      loadConfig({
        PORT: '0',
        HOST: '127.0.0.1',
        WS_PORT: '0',
        DATA_DIR: dataDir,
        INSERT_BATCH_MAX_WAIT_MS: '5',
        MAX_INFLIGHT_EVENTS: '5000',
        LOG_LEVEL: 'silent',
      }),
      { logger: silent },
    )
    const ports = await sluice.listen()
    local = `http://127.0.0.1:${ports.port}`
    wsPort = ports.wsPort
    tab = await openConsole(ports.port)
  }, 120_000)

  afterAll(async () => {
    await tab?.page.close()
    await sluice?.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }, 60_000)

  it('opens without a key, names the embedded backends ready, and subscribes', async () => {
    await tab.shows('status-state', 'status: live')
    await tab.shows('ws-state', 'tail: live')
    expect(await tab.page.getByTestId('key-form').isHidden()).toBe(true)
    await tab.shows('readiness', 'ready')
    expect(await tab.text('readiness-checks')).toMatch(
      /redis: ok \(in-process\).*clickhouse: ok \(embedded chDB\)/,
    )
    await tab.shows('inflight-max', '5000')
    await tab.shows('ws-subscribers', '1')
  })

  it('shows the flow numbers move under a load of REST posts, and agree with what was sent', async () => {
    const sent = { accepted: 0, duplicate: 0, rejected: 0, events: 0 }
    let loading = true
    const load = (async () => {
      // 20 batches of 25, a fifth of a second apart: each with one copy of an id and one invalid event
      for (let round = 0; round < 20; round++) {
        const events: Array<Record<string, unknown>> = Array.from({ length: 23 }, (_, i) => ({
          id: `load-${round}-${i}-${randomUUID()}`,
          type: 'load.tick',
          properties: { round, i },
        }))
        events.push({ ...events[0]! }, { id: randomUUID(), type: 'not a type', properties: {} })
        const { status, body } = await post(local, '/v1/events/batch', { events })
        expect(status).toBe(200)
        sent.accepted += body.accepted
        sent.duplicate += body.duplicates
        sent.rejected += body.rejected
        sent.events += events.length
        await sleep(200)
      }
    })().finally(() => (loading = false))

    // while it runs: the rates are above zero and the totals climb
    const seen = { rate: false, totals: new Set<string>() }
    while (loading) {
      const [rate, total] = await Promise.all([
        tab.text('rate-accepted'),
        tab.text('total-accepted'),
      ])
      if (rate !== null && Number(rate) > 0) seen.rate = true
      if (total !== null) seen.totals.add(total)
      await sleep(REFRESH_MS / 2)
    }
    await load
    expect(seen.rate).toBe(true)
    expect(seen.totals.size).toBeGreaterThan(2)

    expect(sent).toEqual({ accepted: 460, duplicate: 20, rejected: 20, events: 500 })
    // within a refresh or two of the last answer, the page's totals are exactly what was answered
    await tab.shows('total-accepted', String(sent.accepted))
    await tab.shows('total-duplicate', String(sent.duplicate))
    await tab.shows('total-rejected', String(sent.rejected))
    await tab.shows('total-failed', '0')
    await tab.shows('total-transport-rest', String(sent.events))
    // the rates computed from two answers go back to zero once nothing is sent
    await tab.shows('rate-accepted', '0')
    await tab.shows('rate-transport-rest', '0')
    // every event was committed, so the lag and insert latency were measured
    for (const id of ['lag-p50', 'lag-p99', 'insert-p50', 'insert-p99'])
      expect(await tab.text(id)).toMatch(/^\d+(\.\d)? ms$/)
    await tab.shows('inflight', '0')
    // one chart per panel, drawn by uPlot
    expect(await tab.page.locator('.chart .uplot canvas').count()).toBe(4)
  })

  it('sends a test event with its form and shows it in the live tail, with its id', async () => {
    const { status, id } = await sendWithForm(tab, 'console.test')
    expect(status).toBe(202)
    await expectInTail(tab, id, 'console.test')
  })

  it('loads everything from Sluice itself: no other host, no CDN, no script error', () => {
    expectOnlySluice(tab, wsPort)
  })
})

describe(
  'the console on Redis and the ClickHouse server, with API_KEYS',
  { timeout: 180_000 },
  () => {
    const key = `k-${randomUUID()}`
    const name = `hooks-${randomUUID().slice(0, 8)}`
    let downstream: Awaited<ReturnType<typeof startDownstream>> | undefined
    let sluice: Awaited<ReturnType<typeof serverSluice>> | undefined
    let local: string
    let wsPort: number
    let tab: Console

    beforeAll(async () => {
      // the route's destination refuses every batch (a 4xx: dead letters at once) until told otherwise
      downstream = await startDownstream(() => ({ status: 400 }))
      sluice = await serverSluice(
        { PORT: '0', HOST: '127.0.0.1', API_KEYS: `ops=${key}` },
        silent,
        {
          routes: [
            route({
              name,
              match: ['order.*'],
              url: downstream.url,
              batchMaxEvents: 10,
              batchMaxWaitMs: 50,
              backoffInitialMs: 50,
            }),
          ],
        },
      )
      const ports = await sluice.listen()
      local = `http://127.0.0.1:${ports.port}`
      wsPort = ports.wsPort
      tab = await openConsole(ports.port)
    }, 120_000)

    afterAll(async () => {
      await tab?.page.close()
      await sluice?.dispose()
      await downstream?.close()
    }, 60_000)

    it('asks for a key, refuses a wrong one, and keeps the right one for the tab only', async () => {
      await tab.page.getByTestId('key-form').waitFor({ state: 'visible' })
      await tab.shows('status-state', 'key needed')
      await tab.page.getByTestId('key-input').fill('not-the-key')
      await tab.page.getByTestId('key-submit').click()
      await tab.shows('key-error', 'That key was refused.')
      await tab.page.getByTestId('key-input').fill(key)
      await tab.page.getByTestId('key-submit').click()
      await tab.shows('status-state', 'status: live')
      await tab.shows('ws-state', 'tail: live')
      expect(await tab.page.getByTestId('key-form').isHidden()).toBe(true)
      await tab.shows('readiness', 'ready')
      expect(await tab.text('readiness-checks')).toMatch(
        /redis: ok \(redis\).*clickhouse: ok \(clickhouse server\)/,
      )
      const stored = await tab.page.evaluate(
        "({ session: sessionStorage.getItem('sluice.console.apiKey'), local: localStorage.length })",
      )
      expect(stored).toEqual({ session: key, local: 0 })
      // the key went with the status reads as a header, and with the WebSocket in its query
      expect(tab.sockets.some((url) => new URL(url).searchParams.get('api_key') === key)).toBe(true)
    })

    it('sends a test event with the key and shows it in the live tail', async () => {
      const { status, id } = await sendWithForm(tab, 'console.keyed')
      expect(status).toBe(202)
      await expectInTail(tab, id, 'console.keyed')
    })

    it("shows a dead route's letters, and its replay button sends them again", async () => {
      const ids = Array.from({ length: 5 }, (_, i) => `order-${i}-${randomUUID()}`)
      const { status } = await post(
        local,
        '/v1/events/batch',
        { events: ids.map((id) => ({ id, type: 'order.placed', properties: { total: 10 } })) },
        key,
      )
      expect(status).toBe(200)
      // refused (400): dead-lettered at once, counted by the route and in storage
      await tab.shows(`route-${name}-dead-lettered`, '5')
      await tab.shows(`route-${name}-failures`, (text) => Number(text) >= 1)
      await tab.shows(`dead-letters-${name}`, '5')
      expect(downstream!.delivered.size).toBe(0)

      downstream!.answer(() => ({ status: 200 }))
      await tab.page.getByTestId(`replay-${name}`).click()
      await tab.shows(`replay-result-${name}`, 'replayed 5')
      await until(() => downstream!.delivered.size === 5, WAIT_MS, 'the replayed letters delivered')
      expect([...downstream!.delivered.keys()].sort()).toEqual([...ids].sort())
      await tab.shows(`route-${name}-delivered`, '5')
      await tab.shows(`dead-letters-${name}`, '0')
      expect(tab.requests).toContain(`POST ${tab.origin}/v1/dead-letters/replay`)
    })

    it('loads everything from Sluice itself, and is pictured in docs/console.png', async () => {
      // the page's first reads, before the key, and the wrong key's
      expectOnlySluice(tab, wsPort, /status of 401 \(Unauthorized\) \(http:\S+\/v1\/status\)$/)
      expect(tab.errors).toHaveLength(2)
      if (process.env.UPDATE_SCREENSHOT !== '1' && existsSync(SCREENSHOT)) return
      // the picture is taken while a little traffic flows: small batches, two a second, for 15 s
      let round = 0
      const traffic = (async () => {
        for (; round < 30; round++) {
          const events: Array<Record<string, unknown>> = Array.from(
            { length: 20 + (round % 10) * 4 },
            (_, i) => ({
              type: i % 7 === 0 ? 'order.placed' : 'page_view',
              properties: { path: `/shop/${i}` },
            }),
          )
          if (round % 4 === 0) events.push({ type: 'bad type', properties: { path: '/' } })
          if (round % 5 === 0)
            events.push(
              { ...events[0], id: `again-${round}` },
              { ...events[0], id: `again-${round}` },
            )
          await post(local, '/v1/events/batch', { events }, key)
          await sleep(REFRESH_MS)
        }
      })()
      await until(() => round >= 24, 60_000, 'the traffic for the picture')
      // paused, the tail holds still for the picture; its newest event expanded
      await tab.page.getByTestId('tail-pause').click()
      await tab.page.locator('#tail li').first().locator('summary').click()
      await tab.page.screenshot({ path: SCREENSHOT, fullPage: true, animations: 'disabled' })
      await tab.page.getByTestId('tail-pause').click()
      await traffic
    })
  },
)

describe(
  'the console across a restart of Sluice, and in a hidden tab',
  { timeout: 180_000 },
  () => {
    let ports: { port: number; wsPort: number }
    let sluice: Awaited<ReturnType<typeof fakeSluice>> | undefined
    let tab: Console

    const start = async () => {
      sluice = await fakeSluice({
        PORT: String(ports.port),
        WS_PORT: String(ports.wsPort),
        HOST: '127.0.0.1',
      })
      await sluice.listen()
    }

    beforeAll(async () => {
      ports = { port: await freePort(), wsPort: await freePort() }
      await start()
      tab = await openConsole(ports.port)
    }, 120_000)

    afterAll(async () => {
      await tab?.page.close()
      await sluice?.dispose()
    }, 60_000)

    it('reconnects its status and its tail after Sluice restarts on the same ports', async () => {
      const local = `http://127.0.0.1:${ports.port}`
      await tab.shows('ws-state', 'tail: live')
      await tab.shows('status-state', 'status: live')

      await sluice!.dispose()
      await tab.shows('ws-state', 'tail: reconnecting')
      await tab.shows('status-state', 'status: unreachable')

      await start()
      await tab.shows('status-state', 'status: live')
      await tab.shows('ws-state', 'tail: live')
      // subscribed again: an event sent now is in the tail
      await until(async () => sluice!.ws.stats().subscribers === 1, WAIT_MS, 'subscribed again')
      const id = `after-restart-${randomUUID()}`
      const { status } = await post(local, '/v1/events', {
        id,
        type: 'console.restarted',
        properties: { from: 'the console test' },
      })
      expect(status).toBe(202)
      await expectInTail(tab, id, 'console.restarted')
      // the counters are the new process's
      await tab.shows('total-accepted', '1')
    })

    it('costs Sluice one subscriber and no polling while hidden, holds a small buffer, and catches up when shown', async () => {
      const local = `http://127.0.0.1:${ports.port}`
      await setVisibility(tab.page, 'hidden')
      await sleep(REFRESH_MS * 2) // a poll already under way may finish
      const polled = () => tab.requests.filter((r) => r.endsWith('/v1/status')).length
      const before = polled()
      const shown = await tab.page.locator('#tail li').count()

      // 300 events while hidden: the page holds the newest 200 (TAIL_MAX) and draws nothing
      const ids = Array.from({ length: 300 }, (_, i) => `hidden-${i}-${randomUUID()}`)
      for (let i = 0; i < ids.length; i += 100) {
        const events = ids.slice(i, i + 100).map((id) => ({ id, type: 'console.hidden' }))
        expect((await post(local, '/v1/events/batch', { events })).status).toBe(200)
      }
      await tab.shows('tail-note', '200 held, 100 let go while hidden')
      await sleep(REFRESH_MS * 4)
      expect(polled()).toBe(before)
      expect(await tab.page.locator('#tail li').count()).toBe(shown)
      expect(sluice!.ws.stats()).toMatchObject({ connections: 1, subscribers: 1 })

      await setVisibility(tab.page, 'visible')
      await until(() => polled() > before, WAIT_MS, 'polling again once shown')
      // the newest held events are drawn; the tail stays at 200
      await tab.page.locator(`#tail li[data-id="${ids.at(-1)}"]`).waitFor({ timeout: WAIT_MS })
      expect(await tab.page.locator(`#tail li[data-id="${ids[99]}"]`).count()).toBe(0)
      expect(await tab.page.locator('#tail li').count()).toBe(200)
      await tab.shows('total-accepted', '301')
      // while Sluice was away, the browser reported the refused connections of the retries
      expectOnlySluice(
        tab,
        ports.wsPort,
        /ERR_CONNECTION_REFUSED|WebSocket connection to .* failed/,
      )
    })
  },
)

/** What a browser does when its tab is hidden or shown again (headless Chromium's tabs never are). */
async function setVisibility(page: Page, state: 'hidden' | 'visible'): Promise<void> {
  await page.evaluate(`
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => '${state}' })
    document.dispatchEvent(new Event('visibilitychange'))
  `)
}

/** A port free now, for a Sluice that must come back on the same one. */
async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}
