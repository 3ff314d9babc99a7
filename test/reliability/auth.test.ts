import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { CLICKHOUSE_URL, dropDatabase, REDIS_URL } from '../support/services.js'
import { launch, type Instance } from './support/instance.js'
import { privateDatabase, readStored } from './support/stored.js'

// Issue 7.7, end to end on real sockets (test/http/auth-cors.test.ts and test/adapters/ws/limits.test.ts
// cover the same rules in-process): with API_KEYS set, no /v1 request and no WebSocket upgrade
// works without a valid key, and no key ever reaches the process's output, even at trace level.

const KEYS = [`k1-${randomUUID()}`, `k2-${randomUUID()}`]
const database = privateDatabase('auth')
let sluice: Instance
beforeAll(async () => {
  sluice = await launch({
    REDIS_URL,
    CLICKHOUSE_URL,
    CLICKHOUSE_DATABASE: database,
    API_KEYS: KEYS.join(','),
    METRICS_REQUIRE_KEY: 'true',
    LOG_LEVEL: 'trace',
    INSERT_BATCH_MAX_WAIT_MS: '5',
  })
})
afterAll(async () => {
  await sluice?.stop('SIGKILL')
  await dropDatabase(database)
})

const [k1, k2] = KEYS as [string, string]
/** Credentials that must not pass: none, wrong, near misses of a real key, the wrong scheme. */
const WRONG: Array<Record<string, string>> = [
  {},
  { authorization: 'Bearer wrong' },
  { authorization: `Bearer ${k1.toUpperCase()}` },
  { authorization: `Bearer ${k1.slice(0, -1)}` },
  { authorization: `Bearer ${k1}x` },
  { authorization: `Bearer ${KEYS.join(',')}` },
  { authorization: `Basic ${Buffer.from(`user:${k1}`).toString('base64')}` },
  { authorization: k1 },
  { 'x-api-key': `${k2} ` + 'x' },
  { 'x-api-key': '' },
]

const V1: Array<[string, string, string?]> = [
  ['POST', '/v1/events', JSON.stringify({ type: 'auth.one' })],
  ['POST', '/v1/events/batch', JSON.stringify({ events: [{ type: 'auth.batch' }] })],
  ['GET', '/v1/events'],
  ['GET', `/v1/events?api_key=${k1}`],
  ['GET', '/v1/no-such-path'],
  ['PUT', '/v1/events', '{}'],
  ['DELETE', '/v1/events/batch'],
]

function upgrade(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers })
    ws.once('open', () => (ws.close(), resolve(101)))
    ws.once(
      'unexpected-response',
      (_request, response) => (response.resume(), resolve(response.statusCode ?? 0)),
    )
    ws.once('error', () => {})
  })
}

describe('API keys, end to end', () => {
  it.each(V1)(
    'refuses %s %s with 401 in the error shape without a valid key',
    async (method, path, body) => {
      for (const headers of WRONG) {
        const response = await fetch(`${sluice.url}${path}`, {
          method,
          body,
          headers: { 'content-type': 'application/json', ...headers },
        })
        expect(response.status, JSON.stringify(headers)).toBe(401)
        const json = (await response.json()) as { error: { code: string; requestId: string } }
        expect(json.error.code).toBe('unauthorized')
        expect(json.error.requestId).toBe(response.headers.get('x-request-id'))
      }
    },
  )

  it('refuses every operation under /v1 that the OpenAPI document lists, with every wrong credential', async () => {
    const document = (await (await fetch(`${sluice.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>
    }
    const operations = Object.entries(document.paths)
      .filter(([path]) => path.startsWith('/v1/'))
      .flatMap(([path, methods]) =>
        Object.keys(methods).map(
          (method) => [method.toUpperCase(), path.replace(/\{[^}]+\}/g, 'x')] as const,
        ),
      )
    expect(operations.map(([method, path]) => `${method} ${path}`)).toEqual(
      expect.arrayContaining([
        'POST /v1/events',
        'POST /v1/events/batch',
        'GET /v1/events',
        'GET /v1/dead-letters',
        'POST /v1/dead-letters/replay',
      ]),
    )
    for (const [method, path] of operations) {
      for (const headers of WRONG) {
        const response = await fetch(`${sluice.url}${path}`, {
          method,
          body: method === 'GET' ? undefined : '{}',
          headers: { 'content-type': 'application/json', ...headers },
        })
        expect(response.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401)
      }
    }
  })

  it('refuses every WebSocket upgrade without a valid key (header or ?api_key=), and takes each form of a valid one', async () => {
    for (const headers of WRONG)
      expect(await upgrade(sluice.wsUrl, headers), JSON.stringify(headers)).toBe(401)
    for (const query of [
      '?api_key=',
      '?api_key=wrong',
      `?api_key=${k1.slice(1)}`,
      `?apikey=${k1}`,
      `?API_KEY=${k1}`,
    ])
      expect(await upgrade(`${sluice.wsUrl}/${query}`), query).toBe(401)
    expect(await upgrade(sluice.wsUrl, { authorization: `Bearer ${k1}` })).toBe(101)
    expect(await upgrade(sluice.wsUrl, { 'x-api-key': k2 })).toBe(101)
    expect(await upgrade(`${sluice.wsUrl}/?api_key=${encodeURIComponent(k2)}`)).toBe(101)
  })

  it('lets a valid key through, keeps /metrics behind it, and stores only what came with a key', async () => {
    const accepted = await fetch(`${sluice.url}/v1/events`, {
      method: 'POST',
      body: JSON.stringify({ id: `auth-${randomUUID()}`, type: 'auth.ok' }),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${k2}` },
    })
    expect(accepted.status).toBe(202)
    expect(
      (await fetch(`${sluice.url}/v1/events?type=auth.ok`, { headers: { 'x-api-key': k1 } }))
        .status,
    ).toBe(200)
    expect(
      (await fetch(`${sluice.url}/v1/dead-letters`, { headers: { authorization: `Bearer ${k1}` } }))
        .status,
    ).toBe(200)
    expect((await fetch(`${sluice.url}/metrics`)).status).toBe(401)
    expect((await fetch(`${sluice.url}/metrics`, { headers: { 'x-api-key': k1 } })).status).toBe(
      200,
    )
    for (const open of ['/health', '/ready', '/openapi.json', '/docs'])
      expect((await fetch(`${sluice.url}${open}`)).status).toBe(200)
    const stored = await readStored(CLICKHOUSE_URL, database)
    expect(stored.finalRows).toBe(1)
  })

  it('never writes a key to its output, at trace level, after all of the above', async () => {
    // A failing request with a key, so that the error path logs too.
    await fetch(`${sluice.url}/v1/events`, {
      method: 'POST',
      body: '{not json',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${k1}` },
    })
    await new Promise((resolve) => setTimeout(resolve, 200))
    const output = sluice.logs()
    expect(output.length).toBeGreaterThan(1000)
    expect(output).toContain('sluice listening')
    for (const key of KEYS) {
      expect(output).not.toContain(key)
      expect(output).not.toContain(key.slice(0, -1))
      expect(output).not.toContain(Buffer.from(`user:${key}`).toString('base64'))
    }
  })
})
