import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, type Browser } from '../support/browser.js'
import { fakeSluice } from '../support/services.js'

// sluice/client in Chromium (Debian's, scripts/browser.sh): src/client.ts bundled as one ES module
// by esbuild for the browser platform, served by a page of another origin than Sluice's; the page
// imports it, publishes and subscribes over the browser's own WebSocket, with the API key as
// ?api_key= (a browser cannot set headers on an upgrade).

const PAGE_HOST = 'app.test'
const SLUICE_HOST = 'sluice.test'
const KEY = 'browser-key'
const ENTRY = fileURLToPath(new URL('../../src/client.ts', import.meta.url))

describe('sluice/client in a browser', { timeout: 120_000 }, () => {
  let page: Server | undefined
  let browser: Browser | undefined
  let sluice: Awaited<ReturnType<typeof fakeSluice>> | undefined
  let pageOrigin: string
  let wsPort: number
  let bundle: string

  beforeAll(async () => {
    const built = await build({
      entryPoints: [ENTRY],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    })
    bundle = built.outputFiles[0]!.text
    page = createServer((request, response) => {
      if (request.url === '/client.js') {
        response.writeHead(200, { 'content-type': 'text/javascript' })
        return response.end(bundle)
      }
      response.writeHead(200, { 'content-type': 'text/html' })
      // the module as a page loads it: by a <script type="module">, from its own origin
      response.end(
        '<!doctype html><title>app</title><script type="module">import * as client from "/client.js"; window.sluiceClient = client</script>',
      )
    })
    await new Promise<void>((resolve) => page!.listen(0, '127.0.0.1', resolve))
    pageOrigin = `http://${PAGE_HOST}:${(page.address() as AddressInfo).port}`
    sluice = await fakeSluice({
      HOST: '127.0.0.1',
      PORT: '0',
      API_KEYS: `web=${KEY}`,
      CORS_ORIGINS: pageOrigin,
    })
    ;({ wsPort } = await sluice.listen())
    browser = await launchChromium({ hosts: [PAGE_HOST, SLUICE_HOST] })
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await sluice?.dispose()
    await new Promise((resolve) => page?.close(resolve) ?? resolve(undefined))
  }, 60_000)

  it('the bundle needs no `ws`: it carries its own files only', () => {
    expect(bundle).not.toMatch(/node_modules/)
    expect(bundle).toMatch(/export\s*\{[^}]*createClient/)
  })

  it('publishes and subscribes from a page, over the browser’s WebSocket', async () => {
    const tab = await browser!.context.newPage()
    await tab.goto(`${pageOrigin}/`)
    await tab.waitForFunction(() => 'sluiceClient' in globalThis)
    const url = `ws://${SLUICE_HOST}:${wsPort}`
    const outcome = await tab.evaluate(
      async ({ url, key }) => {
        const { createClient } = (globalThis as any)
          .sluiceClient as typeof import('../../src/client.js')
        const client = createClient({ url, apiKey: key })
        const seen: unknown[] = []
        const subscription = client.subscribe(['browser.*'], (event) => seen.push(event))
        await subscription.ready
        const results = await client.publish([
          { type: 'browser.click', properties: { x: 1 } },
          { type: 'not a type' },
        ])
        for (let i = 0; i < 500 && seen.length === 0; i++)
          await new Promise((resolve) => setTimeout(resolve, 10))
        await client.close()
        return { results, seen, stats: client.stats() }
      },
      { url, key: KEY },
    )
    await tab.close()
    expect(outcome.results.map((r) => r.status)).toEqual(['accepted', 'rejected'])
    expect(outcome.seen).toEqual([
      expect.objectContaining({
        id: outcome.results[0]!.id,
        type: 'browser.click',
        source: 'web',
        properties: { x: 1 },
      }),
    ])
    expect(outcome.stats).toMatchObject({ connected: false, timers: 0, inflightEvents: 0 })
    expect(sluice!.storage.rows.map((row) => row.id)).toEqual([outcome.results[0]!.id])
  })
})
