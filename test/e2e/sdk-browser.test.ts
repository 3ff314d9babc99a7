import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/app/config.js'
import { createSluice } from '../../src/app/create-sluice.js'
import { createMemoryStorage } from '../../src/testing.js'
import { launchChromium, type Browser } from '../support/browser.js'
import { fakeSluice, serverSluice, silent } from '../support/services.js'
import { until } from '../support/wait.js'

/**
 * analytics.js (`@segment/analytics-next`) in headless Chromium, on a shop's page served from
 * another origin than Sluice's, as a site instrumented with Segment points it at Sluice: the one
 * option `cdnURL`. analytics.js then loads its settings from Sluice
 * (`GET /v1/projects/<writeKey>/settings`), and their `Segment.io` integration sends every call to
 * Sluice (`POST /v1/i`, `/v1/t`, `/v1/p`) with the write key as Basic auth — a header that makes
 * each send a CORS request with a preflight. Sluice runs in-process, on a real Redis and ClickHouse
 * server (scripts/services.sh) and on the embedded defaults; Chromium is Debian's (scripts/browser.sh). What it sends again after
 * a 503 carries one more header, `X-Retry-Count`, which the preflight must allow as well.
 *
 * The shop (test/e2e/fixtures/sdk-browser) is served by a tiny server of this test at
 * http://www.shop.test:<port>, with the package's own browser bundle (dist/umd/index.js) from
 * node_modules: no CDN. Sluice is http://api.sluice.test:<port>. The browser resolves both names
 * to 127.0.0.1, so they are two origins (two sites) as in production.
 */

const SHOP_HOST = 'www.shop.test'
const SLUICE_HOST = 'api.sluice.test'
const FIXTURES = fileURLToPath(new URL('./fixtures/sdk-browser/', import.meta.url))
const ANALYTICS_NEXT_BUNDLE = createRequire(import.meta.url).resolve(
  '@segment/analytics-next/dist/umd/index.js',
)
/** a 2-core shared machine: Chromium's start and a page's first load can take seconds */
const UI_TIMEOUT_MS = 30_000

interface StoredEvent {
  id: string
  type: string
  timestamp: string
  receivedAt: string
  source?: string
  userId?: string
  properties?: Record<string, any>
  transport: string
}

const STORAGES = ['Redis and the ClickHouse server', 'the embedded defaults'] as const
type Storage = (typeof STORAGES)[number]

/** A Sluice as the browser reaches it (by name) and as the test reads it back (on 127.0.0.1). */
interface Target {
  origin: string
  local: string
  /** the write key its pages use */
  key: string
}

function target(port: number, key: string): Target {
  return { origin: `http://${SLUICE_HOST}:${port}`, local: `http://127.0.0.1:${port}`, key }
}

interface Sent {
  type: string
  messageId: string
  failed?: string
}

describe(
  'analytics.js (@segment/analytics-next) in a browser, on a page of another origin',
  {
    timeout: 120_000,
  },
  () => {
    // Write keys are named (API_KEYS `web=<key>`), so the events they send carry `source: web`.
    // Each page gets a key of its own: analytics.js keeps the messages it will retry in
    // localStorage under the write key, and a later page of the same origin would send them.
    const keys = {
      cors: `wk-${randomUUID()}`,
      embedded: `wk-${randomUUID()}`,
      noSettings: `wk-${randomUUID()}`,
      inline: `wk-${randomUUID()}`,
      retried: `wk-${randomUUID()}`,
      batched: `wk-${randomUUID()}`,
    }
    let shop: Server | undefined
    let shopOrigin: string
    /** Sluices with CORS_ORIGINS set to the shop's origin, by storage */
    const open = {} as Record<Storage, Target>
    const stops: Array<() => Promise<void>> = []
    /** Sluice without CORS_ORIGINS */
    let closed: Awaited<ReturnType<typeof serverSluice>> | undefined
    let closedOrigin: string
    let closedLocal: string
    /** Sluice with CORS on a storage the test takes down and brings back (in memory) */
    let storageDown = false
    const storage = createMemoryStorage({ down: () => storageDown })
    let flaky: Awaited<ReturnType<typeof fakeSluice>> | undefined
    let flakyOrigin: string
    let context: BrowserContext | undefined
    let browser: Browser | undefined
    const requests: string[] = []
    const failedRequests: string[] = []
    /** the re-sends to the flaky Sluice that analytics.js numbered, by path */
    const resent: Array<Promise<string[]>> = []
    /** the paths the flaky Sluice has answered 503 */
    const refused = new Set<string>()
    const pageErrors: string[] = []

    beforeAll(async () => {
      shop = await serveShop()
      shopOrigin = `http://${SHOP_HOST}:${(shop.address() as AddressInfo).port}`

      const onServer = await serverSluice({
        PORT: '0',
        HOST: '127.0.0.1',
        API_KEYS: `web=${keys.cors},web=${keys.batched}`,
        CORS_ORIGINS: shopOrigin,
      })
      stops.push(() => onServer.dispose())
      open['Redis and the ClickHouse server'] = target((await onServer.listen()).port, keys.cors)

      // the zero-configuration default: in-process dedupe and embedded chDB (one data dir per process)
      const dataDir = mkdtempSync(join(tmpdir(), 'sluice-e2e-embedded-'))
      const embedded = await createSluice(
        loadConfig({
          PORT: '0',
          HOST: '127.0.0.1',
          WS_PORT: '0',
          DATA_DIR: dataDir,
          INSERT_BATCH_MAX_WAIT_MS: '5',
          LOG_LEVEL: 'silent',
          API_KEYS: `web=${keys.embedded}`,
          CORS_ORIGINS: shopOrigin,
        }),
        { logger: silent },
      )
      stops.push(async () => {
        await embedded.stop()
        rmSync(dataDir, { recursive: true, force: true })
      })
      open['the embedded defaults'] = target((await embedded.listen()).port, keys.embedded)

      closed = await serverSluice({
        PORT: '0',
        HOST: '127.0.0.1',
        API_KEYS: `web=${keys.noSettings},web=${keys.inline}`,
      })
      const closedPort = (await closed.listen()).port
      closedOrigin = `http://${SLUICE_HOST}:${closedPort}`
      closedLocal = `http://127.0.0.1:${closedPort}`

      flaky = await fakeSluice(
        {
          PORT: '0',
          HOST: '127.0.0.1',
          API_KEYS: `web=${keys.retried}`,
          CORS_ORIGINS: shopOrigin,
          // a storage outage is answered 503 at once, not after the default 20 s of retries
          INSERT_RETRY_BUDGET_MS: '0',
        },
        silent,
        { sink: storage },
      )
      flakyOrigin = `http://${SLUICE_HOST}:${(await flaky.listen()).port}`

      browser = await launchChromium({ hosts: [SHOP_HOST, SLUICE_HOST] })
      context = browser.context
      context.setDefaultTimeout(UI_TIMEOUT_MS)
      context.on('request', (request) => {
        requests.push(`${request.method()} ${request.url()}`)
        // the headers as sent: at this event Chromium may not have reported them all yet
        if (request.url().startsWith(`${flakyOrigin}/`))
          resent.push(
            request.allHeaders().then((headers) => {
              const retry = headers['x-retry-count']
              return retry === undefined ? [] : [`${new URL(request.url()).pathname} #${retry}`]
            }),
          )
      })
      context.on('response', (response) => {
        if (response.url().startsWith(`${flakyOrigin}/`) && response.status() === 503)
          refused.add(new URL(response.url()).pathname)
      })
      context.on('requestfailed', (request) =>
        failedRequests.push(`${request.method()} ${request.url()}`),
      )
    }, 120_000)

    afterAll(async () => {
      await browser?.close()
      for (const stop of stops) await stop()
      await closed?.dispose()
      await flaky?.dispose()
      await new Promise((resolve) => shop?.close(resolve) ?? resolve(undefined))
    }, 60_000)

    for (const storage of STORAGES)
      it(`loads its settings from Sluice and sends identify, track and page through CORS: each is stored once, mapped (on ${storage})`, async () => {
        const { origin, local, key } = open[storage]
        const page = await openShop(key, origin)
        expect(await page.evaluate('window.shop.loaded')).toBe('loaded')
        const sent = await page.evaluate<Sent[]>('window.shop.sent')
        expect(sent.map((call) => [call.type, call.failed])).toEqual([
          ['identify', undefined],
          ['track', undefined],
          ['page', undefined],
        ])
        const [identify, track, view] = sent.map((call) => call.messageId)

        let events: StoredEvent[] = []
        await until(
          async () => (events = await stored(local, key)).length >= 3,
          UI_TIMEOUT_MS,
          'the three messages stored',
          100,
        )
        // each once: the three ids, none twice
        expect(events.map((event) => event.id).sort()).toEqual([identify, track, view].sort())
        const byId = new Map(events.map((event) => [event.id, event]))
        const segment = {
          anonymousId: expect.any(String),
          userId: 'user-42',
          context: expect.objectContaining({
            library: { name: 'analytics.js', version: expect.stringContaining('next-') },
            page: { path: '/', referrer: '', search: '', title: 'Shop', url: `${shopOrigin}/` },
            userAgent: expect.any(String),
          }),
          timestamp: expect.any(String),
          sentAt: expect.any(String),
        }
        expect(byId.get(identify!)).toMatchObject({
          type: 'identify',
          userId: 'user-42',
          source: 'web',
          transport: 'rest',
          properties: {
            plan: 'pro',
            email: 'ada@example.com',
            $segment: { ...segment, type: 'identify' },
          },
        })
        expect(byId.get(track!)).toMatchObject({
          type: 'Order_Completed',
          userId: 'user-42',
          source: 'web',
          transport: 'rest',
          properties: {
            orderId: 'o-1001',
            total: 42.5,
            currency: 'EUR',
            $segment: { ...segment, type: 'track', event: 'Order Completed' },
          },
        })
        expect(byId.get(view!)).toMatchObject({
          type: 'page',
          userId: 'user-42',
          source: 'web',
          transport: 'rest',
          properties: {
            section: 'sdk',
            $segment: { ...segment, type: 'page', category: 'Docs', name: 'Getting started' },
          },
        })
        // the write key is a credential: it reaches Sluice, and is not stored
        expect(JSON.stringify(events)).not.toContain(key)

        const mine = requests.filter((request) => request.includes(`:${new URL(origin).port}/`))
        expect(mine).toEqual(
          expect.arrayContaining([
            `GET ${origin}/v1/projects/${key}/settings`,
            `POST ${origin}/v1/i`,
            `POST ${origin}/v1/t`,
            `POST ${origin}/v1/p`,
          ]),
        )
        expect(await page.evaluate('window.shop.deliveryErrors')).toEqual([])
        await page.close()
      })

    it('sends the calls as one batch (POST /v1/b) when told to batch: each is stored once, mapped', async () => {
      const { origin, local } = open['Redis and the ClickHouse server']
      const page = await openShop(keys.batched, origin, { delivery: 'batching' })
      expect(await page.evaluate('window.shop.loaded')).toBe('loaded')
      const sent = await page.evaluate<Sent[]>('window.shop.sent')
      const ids = sent.map((call) => call.messageId)

      let events: StoredEvent[] = []
      await until(
        async () =>
          (events = (await stored(local, keys.batched)).filter((event) => ids.includes(event.id)))
            .length >= 3,
        UI_TIMEOUT_MS,
        'the batch stored',
        100,
      )
      expect(events.map((event) => event.id).sort()).toEqual([...ids].sort())
      expect(events.map((event) => [event.type, event.userId, event.source]).sort()).toEqual([
        ['Order_Completed', 'user-42', 'web'],
        ['identify', 'user-42', 'web'],
        ['page', 'user-42', 'web'],
      ])
      expect(JSON.stringify(events)).not.toContain(keys.batched)
      // The batch was stored, but Chromium's report of its request may still be on its way here.
      const batches = () => requests.filter((request) => request.startsWith(`POST ${origin}/v1/b`))
      await until(() => batches().length > 0, UI_TIMEOUT_MS, "Chromium's report of the batch", 50)
      expect(batches()).toEqual([`POST ${origin}/v1/b`])
      expect(await page.evaluate('window.shop.deliveryErrors')).toEqual([])
      await page.close()
    })

    it('with a write key Sluice does not know gets no settings (401, readable through CORS), and so sends nothing', async () => {
      const { origin } = open['Redis and the ClickHouse server']
      const unknown = `wk-${randomUUID()}`
      const before = requests.length
      const page = await openShop(unknown, origin)
      // analytics.js throws the body of an answer that is not ok: the 401 reached the page
      expect(await page.evaluate('window.shop.loaded')).toMatch(/^not loaded: .*unauthorized/)
      // the settings request, and no send
      const made = requests.slice(before).filter((request) => request.includes(`${origin}/`))
      expect(made).toEqual([`GET ${origin}/v1/projects/${unknown}/settings`])
      await page.close()
    })

    it('without CORS_ORIGINS cannot read its settings from Sluice, and so sends nothing', async () => {
      const page = await openShop(keys.noSettings, closedOrigin)
      expect(await page.evaluate('window.shop.loaded')).toMatch(/^not loaded: /)
      expect(failedRequests).toContain(
        `GET ${closedOrigin}/v1/projects/${keys.noSettings}/settings`,
      )
      // analytics.js never loaded, so it never sends what it was holding
      expect(requests.filter((request) => request.startsWith(`POST ${closedOrigin}/`))).toEqual([])
      expect(await stored(closedLocal, keys.noSettings)).toEqual([])
      await page.close()
    })

    it('without CORS_ORIGINS its messages are refused at the preflight, also with its settings given inline: nothing is stored', async () => {
      const page = await openShop(keys.inline, closedOrigin, { settings: 'inline' })
      expect(await page.evaluate('window.shop.loaded')).toBe('loaded')
      // each call's first attempt is over (and will be retried: a failed fetch is not final)
      const sent = await page.evaluate<Sent[]>('window.shop.sent')
      expect(sent.map((call) => call.type)).toEqual(['identify', 'track', 'page'])
      expect(failedRequests).toEqual(
        expect.arrayContaining([
          `POST ${closedOrigin}/v1/i`,
          `POST ${closedOrigin}/v1/t`,
          `POST ${closedOrigin}/v1/p`,
        ]),
      )
      // Sluice answers a send only after its commit, so a send it had taken would be stored by now
      expect(await stored(closedLocal, keys.inline)).toEqual([])
      await page.close()
    })

    it('sends again, through CORS, what Sluice answered 503 while its storage was down: each message is stored once', async () => {
      storageDown = true
      const page = await openShop(keys.retried, flakyOrigin)
      expect(await page.evaluate('window.shop.loaded')).toBe('loaded')
      // each call's first attempt is over, answered 503: analytics.js will send it again
      const sent = await page.evaluate<Sent[]>('window.shop.sent')
      expect(sent.map((call) => [call.type, call.failed])).toEqual([
        ['identify', undefined],
        ['track', undefined],
        ['page', undefined],
      ])
      // A first attempt still in flight when storage comes back is stored without a re-send: wait
      // until Sluice has answered each of the three 503 (after its insert retry budget).
      await until(
        () => ['/v1/i', '/v1/t', '/v1/p'].every((path) => refused.has(path)),
        UI_TIMEOUT_MS,
        'a 503 for each first attempt',
        50,
      )
      expect(storage.writes).toBeGreaterThan(0)
      expect(storage.rows).toEqual([])
      storageDown = false

      await until(
        () => storage.rows.length >= 3,
        UI_TIMEOUT_MS,
        "the three messages stored by analytics.js's own retries",
        100,
      )
      // every row ever written: each message once
      expect(storage.rows.map((event) => event.id).sort()).toEqual(
        sent.map((call) => call.messageId).sort(),
      )
      // Chromium reports a request over its own pipe, which may reach this process after the request
      // itself reached Sluice and was stored: wait for the reports rather than read them at once.
      const firstResends = ['/v1/i #1', '/v1/t #1', '/v1/p #1']
      await until(
        async () => {
          const numbered = new Set((await Promise.all(resent)).flat())
          return firstResends.every((resend) => numbered.has(resend))
        },
        UI_TIMEOUT_MS,
        'the numbered re-sends reported by Chromium',
        50,
      )
      expect(await page.evaluate('window.shop.deliveryErrors')).toEqual([])
      await page.close()
    })

    it('loads everything from the shop and Sluice: no request to any other host, no script error', () => {
      const allowed = new Set([
        shopOrigin,
        ...Object.values(open).map((sluice) => sluice.origin),
        closedOrigin,
        flakyOrigin,
      ])
      expect(requests.length).toBeGreaterThan(0)
      expect(
        requests.filter((request) => !allowed.has(new URL(request.split(' ')[1]!).origin)),
      ).toEqual([])
      expect(requests).toContain(`GET ${shopOrigin}/analytics-next.js`)
      expect(pageErrors).toEqual([])
    })

    /** `settings: 'inline'`: the page gives analytics.js its settings; `delivery: 'batching'`: it batches */
    async function openShop(
      writeKey: string,
      sluice: string,
      options: { settings?: 'inline'; delivery?: 'batching' } = {},
    ): Promise<Page> {
      const page = await context!.newPage()
      page.on('pageerror', (error) => pageErrors.push(error.message))
      const response = await page.goto(
        `${shopOrigin}/#${new URLSearchParams({ writeKey, sluice, ...options }).toString()}`,
        {
          timeout: UI_TIMEOUT_MS,
        },
      )
      expect(response?.status()).toBe(200)
      return page
    }
  },
)

/** The events a Sluice has stored, read back over REST with the write key (also an API key). */
async function stored(sluice: string, key: string): Promise<StoredEvent[]> {
  const response = await fetch(`${sluice}/v1/events?limit=100`, {
    headers: { authorization: `Bearer ${key}` },
  })
  expect(response.status).toBe(200)
  return ((await response.json()) as { events: StoredEvent[] }).events
}

/** The shop: its page, its script, and analytics.js's browser bundle, from this machine. */
async function serveShop(): Promise<Server> {
  const files: Record<string, { path: string; type: string }> = {
    '/': { path: join(FIXTURES, 'index.html'), type: 'text/html; charset=utf-8' },
    '/shop.js': { path: join(FIXTURES, 'shop.js'), type: 'text/javascript; charset=utf-8' },
    '/analytics-next.js': { path: ANALYTICS_NEXT_BUNDLE, type: 'text/javascript; charset=utf-8' },
  }
  const server = createServer((request, response) => {
    const file = files[new URL(request.url ?? '/', 'http://shop').pathname]
    if (!file) {
      response.writeHead(404).end()
      return
    }
    response.writeHead(200, { 'content-type': file.type }).end(readFileSync(file.path))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}
