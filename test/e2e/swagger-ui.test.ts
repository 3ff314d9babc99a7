import { randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { BrowserContext, Locator, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, type Browser } from '../support/browser.js'
import { serverSluice } from '../support/services.js'

/**
 * Swagger UI at /docs, driven in headless Chromium the way a person uses it: open the page, expand
 * an operation, "Try it out", edit, "Execute", read the answer. Sluice runs in-process on a real
 * Redis and ClickHouse server (scripts/services.sh); Chromium is Debian's (scripts/browser.sh).
 *
 * The page is opened as http://docs.sluice.test:<port>, a name the browser resolves to 127.0.0.1,
 * not as http://127.0.0.1: Swagger UI skips some outside requests (its validator badge) when it is
 * served from localhost, and a person never is. So "no request leaves the machine" is checked for
 * the page as it is really served: every request must go to that one origin.
 *
 * docs/swagger-ui.png is (re)written when it is missing or with UPDATE_SCREENSHOT=1.
 */

const HOST = 'docs.sluice.test'
const SCREENSHOT = fileURLToPath(new URL('../../docs/swagger-ui.png', import.meta.url))
/** a 2-core shared machine: Chromium's start and Swagger UI's first render can take seconds */
const UI_TIMEOUT_MS = 30_000

describe('Swagger UI at /docs, in a browser', { timeout: 120_000 }, () => {
  const run = `e2e-${randomUUID()}`
  const ids = { first: `${run}-1`, invalid: `${run}-2`, second: `${run}-3` }
  let sluice: Awaited<ReturnType<typeof serverSluice>> | undefined
  let context: BrowserContext | undefined
  let browser: Browser | undefined
  let page: Page
  let origin: string
  const requests: string[] = []
  const pageErrors: string[] = []
  const consoleErrors: string[] = []

  beforeAll(async () => {
    sluice = await serverSluice({ PORT: '0', HOST: '127.0.0.1' })
    const { port } = await sluice.listen()
    origin = `http://${HOST}:${port}`

    browser = await launchChromium({ hosts: [HOST], viewport: { width: 1280, height: 1600 } })
    context = browser.context
    context.setDefaultTimeout(UI_TIMEOUT_MS)
    // every page and worker of the context, not only the tab
    context.on('request', (request) => requests.push(`${request.method()} ${request.url()}`))
    page = context.pages()[0] ?? (await context.newPage())
    page.on('pageerror', (error) => pageErrors.push(error.message))
    page.on('console', (message) => {
      if (message.type() === 'error')
        consoleErrors.push(`${message.text()} (${message.location().url})`)
    })
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await sluice?.dispose()
  }, 60_000)

  it('renders every operation from /openapi.json', async () => {
    const response = await page.goto(`${origin}/docs`, { timeout: UI_TIMEOUT_MS })
    expect(response?.status()).toBe(200)
    // the page runs under its own policy (a violation would be a console error, checked below) and cannot be framed
    expect(response?.headers()['content-security-policy']).toMatch(
      /script-src 'self' 'sha256-[^']+'; .*frame-ancestors 'none'/,
    )
    expect(response?.headers()['x-frame-options']).toBe('DENY')
    await expect.poll(() => page.title()).toBe('Sluice API')
    await operation('events-post_v1_events_batch').waitFor()
    const rendered = await page.locator('.opblock .opblock-summary-path').allInnerTexts()
    const methods = await page.locator('.opblock .opblock-summary-method').allInnerTexts()
    const operations = methods.map(
      (method, i) => `${method} ${rendered[i]!.replace(/\u200b/g, '')}`,
    )
    expect(operations).toEqual(
      expect.arrayContaining([
        'POST /v1/events',
        'POST /v1/events/batch',
        'GET /v1/events',
        'GET /health',
        'GET /ready',
        'GET /metrics',
        // the drop-in endpoints for analytics SDKs (API.md §9), under the tag compatibility
        'POST /v1/batch',
        'POST /v1/t',
        'GET /v1/projects/{writeKey}/settings',
        'POST /batch/',
        'POST /i/v0/e/',
      ]),
    )
  })

  it('sends a batch with "Try it out" and shows the per-event results', async () => {
    const batch = operation('events-post_v1_events_batch')
    await expand(batch)
    await batch.locator('.try-out__btn').click()
    const body = batch.locator('textarea.body-param__text')
    // the documented example is pre-filled: the mixed batch of API.md §3
    const prefilled = JSON.parse(await body.inputValue()) as { events: Array<{ id?: string }> }
    expect(prefilled.events.map((event) => event.id)).toEqual([
      'evt-1001',
      'evt-1002',
      'evt-1001',
      undefined,
    ])

    const events = [
      { id: ids.first, type: 'checkout.completed', properties: { total: 42.5, currency: 'EUR' } },
      { id: ids.invalid, type: 'page view', properties: { path: '/' } },
      { id: ids.first, type: 'checkout.completed', properties: { total: 42.5, currency: 'EUR' } },
      { id: ids.second, type: 'page_view', source: 'e2e' },
    ]
    await body.fill(JSON.stringify({ events }, null, 2))
    await batch.locator('.execute').click()

    const answer = await liveResponse(batch)
    expect(answer.status).toBe('200')
    expect(answer.body).toEqual({
      accepted: 2,
      duplicates: 1,
      rejected: 1,
      failed: 0,
      results: [
        { index: 0, id: ids.first, status: 'accepted' },
        {
          index: 1,
          id: ids.invalid,
          status: 'rejected',
          errors: [{ path: 'type', message: expect.any(String) }],
        },
        { index: 2, id: ids.first, status: 'duplicate' },
        { index: 3, id: ids.second, status: 'accepted' },
      ],
    })
  })

  it('reads the accepted events back with GET /v1/events', async () => {
    const read = operation('events-get_v1_events')
    await expand(read)
    await read.locator('.try-out__btn').click()
    // The optional filters start empty (an example there would be pre-filled and silently filter
    // the list of a person who only clicks Execute); ask for a small page.
    expect(await parameter(read, 'type').inputValue()).toBe('')
    expect(await parameter(read, 'since').inputValue()).toBe('')
    await parameter(read, 'limit').fill('10')
    await read.locator('.execute').click()

    const answer = await liveResponse(read)
    expect(await read.locator('.request-url').innerText()).toContain(`${origin}/v1/events?limit=10`)
    expect(answer.status).toBe('200')
    const stored = (
      answer.body as {
        events: Array<{ id: string; type: string; transport: string; receivedAt: string }>
      }
    ).events
    // this Sluice has a database of its own: exactly the two accepted events, each once
    expect(stored.map((event) => event.id).sort()).toEqual([ids.first, ids.second].sort())
    expect(
      stored.every(
        (event) => event.transport === 'rest' && !Number.isNaN(Date.parse(event.receivedAt)),
      ),
    ).toBe(true)

    if (process.env.UPDATE_SCREENSHOT === '1' || !existsSync(SCREENSHOT)) await screenshot(read)
  })

  it('loads everything from Sluice itself: no request to any other host, no script error', () => {
    expect(requests.length).toBeGreaterThan(0)
    expect(requests.filter((request) => new URL(request.split(' ')[1]!).origin !== origin)).toEqual(
      [],
    )
    expect(requests).toEqual(
      expect.arrayContaining([
        `GET ${origin}/docs/assets/swagger-ui-dist/swagger-ui-bundle.js`,
        `GET ${origin}/openapi.json`,
        `POST ${origin}/v1/events/batch`,
        `GET ${origin}/v1/events?limit=10`,
      ]),
    )
    expect(pageErrors).toEqual([])
    // the browser's own favicon request (Sluice serves none) is not the page's doing
    expect(consoleErrors.filter((error) => !error.includes('/favicon.ico'))).toEqual([])
  })

  function operation(id: string): Locator {
    return page.locator(`#operations-${id}`)
  }

  async function expand(op: Locator): Promise<void> {
    const summary = op.locator('.opblock-summary-control')
    if ((await summary.getAttribute('aria-expanded')) !== 'true') await summary.click()
    await op.locator('.opblock-body').waitFor()
  }

  function parameter(op: Locator, name: string): Locator {
    return op.locator(`tr[data-param-name="${name}"] input`)
  }

  /** The "Server response" Swagger UI shows after Execute: its status code and its JSON body. */
  async function liveResponse(op: Locator): Promise<{ status: string; body: unknown }> {
    const table = op.locator('.responses-wrapper .live-responses-table')
    await table.waitFor({ timeout: UI_TIMEOUT_MS })
    const status = (await table.locator('tbody .response-col_status').first().innerText()).trim()
    const text = await table
      .locator('.response-col_description .highlight-code pre')
      .first()
      .innerText()
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      throw new Error(`the response body Swagger UI shows is not JSON (status ${status}):\n${text}`)
    }
    return { status, body }
  }

  /** docs/swagger-ui.png: from the page's header down to the answer of the GET /v1/events just tried out. */
  async function screenshot(op: Locator): Promise<void> {
    await page.evaluate('window.scrollTo(0, 0)')
    const answer = await op.locator('.responses-wrapper .live-responses-table').boundingBox()
    if (!answer) throw new Error('the answer of GET /v1/events is not on the page')
    const height = Math.ceil(answer.y + answer.height + 24)
    await page.screenshot({
      path: SCREENSHOT,
      fullPage: true,
      clip: { x: 0, y: 0, width: 1280, height },
      animations: 'disabled',
    })
  }
})
