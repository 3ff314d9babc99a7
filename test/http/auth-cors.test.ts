import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/telemetry/logger.js'
import { fakeSluice, uniqueId } from '../support/services.js'

let open: Awaited<ReturnType<typeof fakeSluice>>
let locked: Awaited<ReturnType<typeof fakeSluice>>

beforeAll(async () => {
  ;[open, locked] = await Promise.all([
    fakeSluice({ CORS_ORIGINS: 'https://app.example, https://admin.example' }),
    fakeSluice({
      API_KEYS: 'key-one,web-app=key-two',
      METRICS_REQUIRE_KEY: 'true',
      CORS_ORIGINS: '*',
    }),
  ])
})
afterAll(() => Promise.all([open.dispose(), locked.dispose()]))

const v1Requests: Array<[string, string, RequestInit?]> = [
  ['POST', '/v1/events', { body: JSON.stringify({ type: 'x' }) }],
  ['POST', '/v1/events/batch', { body: JSON.stringify({ events: [{ type: 'x' }] }) }],
  ['GET', '/v1/events', undefined],
  ['GET', '/v1/anything-else', undefined],
]

describe('API keys', () => {
  it.each(v1Requests)(
    'answers %s %s with 401 and the error shape without a key, and with a wrong one',
    async (method, path, init) => {
      const attempts: Array<Record<string, string>> = [
        {},
        { authorization: 'Bearer wrong' },
        { 'x-api-key': 'key-one-but-longer' },
        { authorization: 'Basic a2V5LW9uZQ==' },
      ]
      for (const headers of attempts) {
        const response = await locked.app.request(path, {
          method,
          ...init,
          headers: { 'content-type': 'application/json', ...headers },
        })
        expect(response.status).toBe(401)
        const body = (await response.json()) as { error: { code: string; requestId: string } }
        expect(body.error.code).toBe('unauthorized')
        expect(body.error.requestId).toBe(response.headers.get('x-request-id'))
      }
    },
  )

  it.each(v1Requests.slice(0, 3))(
    'lets %s %s through with a Bearer key or an X-API-Key',
    async (method, path, init) => {
      const keys: Array<Record<string, string>> = [
        { authorization: 'Bearer key-one' },
        { 'x-api-key': 'key-two' },
      ]
      for (const headers of keys) {
        const response = await locked.app.request(path, {
          method,
          ...init,
          headers: { 'content-type': 'application/json', ...headers },
        })
        expect(response.status).toBeLessThan(300)
      }
    },
  )

  it("gives events sent with a named key the key's name as their source when they carry none (an empty one counts as none)", async () => {
    const type = `named.${uniqueId().slice(2, 10)}`
    const send = (path: string, body: unknown, key: string) =>
      locked.app.request(path, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json', 'x-api-key': key },
      })
    const batch = await send(
      '/v1/events/batch',
      {
        events: [
          { id: `${type}-1`, type },
          { id: `${type}-2`, type, source: 'ios' },
          { id: `${type}-3`, type, source: '' },
        ],
      },
      'key-two',
    )
    expect(((await batch.json()) as { accepted: number }).accepted).toBe(3)
    expect((await send('/v1/events', { id: `${type}-4`, type }, 'key-two')).status).toBe(202)
    expect((await send('/v1/events', { id: `${type}-5`, type }, 'key-one')).status).toBe(202)

    const stored = await locked.app.request(`/v1/events?type=${type}`, {
      headers: { authorization: 'Bearer key-one' },
    })
    const { events } = (await stored.json()) as { events: Array<{ id: string; source?: string }> }
    const sources = Object.fromEntries(
      events.map((event) => [event.id.slice(type.length + 1), event.source ?? null]),
    )
    expect(sources).toEqual({ 1: 'web-app', 2: 'ios', 3: 'web-app', 4: 'web-app', 5: null })
  })

  it('keeps /health, /ready, /docs and /openapi.json open, and /metrics behind the key when METRICS_REQUIRE_KEY is set', async () => {
    for (const path of ['/health', '/ready', '/docs', '/openapi.json'])
      expect((await locked.app.request(path)).status).toBe(200)
    expect((await locked.app.request('/metrics')).status).toBe(401)
    expect(
      (await locked.app.request('/metrics', { headers: { authorization: 'Bearer key-two' } }))
        .status,
    ).toBe(200)
    expect((await open.app.request('/metrics')).status).toBe(200)
  })
})

describe('CORS', () => {
  const preflight = (app: typeof open.app, origin: string) =>
    app.request('/v1/events/batch', {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-api-key',
      },
    })

  it('answers a preflight from a listed origin and names it in Access-Control-Allow-Origin', async () => {
    const response = await preflight(open.app, 'https://admin.example')
    expect(response.status).toBe(204)
    expect(response.headers.get('access-control-allow-origin')).toBe('https://admin.example')
    expect(response.headers.get('access-control-allow-headers')?.toLowerCase()).toContain(
      'x-api-key',
    )
    const actual = await open.app.request('/v1/events', {
      method: 'POST',
      body: JSON.stringify({ type: 'cors' }),
      headers: { origin: 'https://app.example', 'content-type': 'application/json' },
    })
    expect(actual.headers.get('access-control-allow-origin')).toBe('https://app.example')
    expect(actual.headers.get('access-control-expose-headers')?.toLowerCase()).toContain(
      'x-request-id',
    )
  })

  it('does not allow an origin that is not listed', async () => {
    const response = await preflight(open.app, 'https://evil.example')
    expect(response.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('answers preflights without a key when API_KEYS is set, for any origin with *', async () => {
    const response = await preflight(locked.app, 'https://anywhere.example')
    expect(response.status).toBe(204)
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
  })
})

describe('logs', () => {
  it('never contain an API key, even at debug level with a failing request', async () => {
    const lines: string[] = []
    const logger = createLogger('trace', { write: (line: string) => void lines.push(line) })
    const sluice = await fakeSluice({ API_KEYS: 'secret-key-123,other-secret-456' }, logger)
    try {
      await sluice.app.request('/v1/events', {
        method: 'POST',
        body: '{"type":"x"}',
        headers: { 'content-type': 'application/json', authorization: 'Bearer secret-key-123' },
      })
      await sluice.app.request('/v1/events', {
        method: 'POST',
        body: '{"type":"x"}',
        headers: { 'content-type': 'application/json', 'x-api-key': 'other-secret-456x' },
      })
      await sluice.app.request('/v1/events?limit=0', {
        headers: { authorization: 'Bearer secret-key-123' },
      })
    } finally {
      await sluice.dispose()
    }
    expect(lines.length).toBeGreaterThan(2)
    expect(lines.join('\n')).not.toMatch(/secret-key-123|other-secret-456/)
    expect(lines.join('\n')).toContain('"requestId"')
  })
})
