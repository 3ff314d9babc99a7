import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fakeSluice, uniqueId } from '../support/services.js'

let locked: Awaited<ReturnType<typeof fakeSluice>>

beforeAll(async () => {
  locked = await fakeSluice({
    API_KEYS: 'key-one,web-app=key-two',
    CORS_ORIGINS: 'https://shop.example',
  })
})
afterAll(() => locked.dispose())

const basic = (user: string, password = '') =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

const segment = (id: string, writeKey?: string) =>
  JSON.stringify({
    batch: [{ type: 'track', event: 'e', messageId: id }],
    ...(writeKey !== undefined && { writeKey }),
  })
const posthog = (uuid: string, apiKey?: string) =>
  JSON.stringify({
    batch: [{ event: 'e', uuid }],
    ...(apiKey !== undefined && { api_key: apiKey }),
  })

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  locked.app.request(path, {
    method: 'POST',
    body,
    headers: { 'content-type': 'text/plain', ...headers },
  })

const stored = (id: string) => locked.storage.rows.filter((row) => row.id === id)

describe('write keys on the drop-in paths, with API_KEYS set', () => {
  it.each([
    ['Authorization: Basic base64(key:)', { authorization: basic('key-one') }, undefined],
    ['X-Write-Key', { 'x-write-key': 'key-one' }, undefined],
    ['Authorization: Bearer', { authorization: 'Bearer key-one' }, undefined],
    ['X-API-Key', { 'x-api-key': 'key-one' }, undefined],
    ['writeKey in the body', {}, 'key-one'],
  ])('takes a Segment batch with the key as %s', async (_form, headers, bodyKey) => {
    const id = uniqueId('key')
    const response = await post('/v1/batch', segment(id, bodyKey), headers)
    expect(response.status).toBe(200)
    expect(stored(id)).toHaveLength(1)
  })

  it.each([
    ['api_key in the body', {}, 'key-one'],
    ['Authorization: Basic', { authorization: basic('key-one') }, undefined],
  ])('takes a PostHog batch with the key as %s', async (_form, headers, bodyKey) => {
    const uuid = uniqueId('key')
    const response = await post('/batch/', posthog(uuid, bodyKey), headers)
    expect(response.status).toBe(200)
    expect(stored(uuid)).toHaveLength(1)
  })

  it("takes posthog-js's key from the first message's properties.token", async () => {
    const uuid = uniqueId('key')
    const body = JSON.stringify([{ event: 'e', uuid, properties: { token: 'key-one' } }])
    expect((await post('/e/', body)).status).toBe(200)
    expect(stored(uuid)).toHaveLength(1)
  })

  it.each([
    ['no key', {}, undefined],
    ['a wrong key in the body', {}, 'key-three'],
    [
      'a wrong Basic key, although the body holds a right one',
      { authorization: basic('nope') },
      'key-one',
    ],
    ['a wrong X-Write-Key', { 'x-write-key': 'key-one-but-longer' }, undefined],
    ['a key that is not a string', {}, 42],
  ])('answers 401 unauthorized and stores nothing for %s', async (_case, headers, bodyKey) => {
    const id = uniqueId('key')
    const body = JSON.stringify({
      batch: [{ type: 'track', event: 'e', messageId: id }],
      ...(bodyKey !== undefined && { writeKey: bodyKey }),
    })
    for (const path of ['/v1/batch', '/v1/t']) {
      const response = await post(
        path,
        path === '/v1/t' ? JSON.stringify({ event: 'e', messageId: id, writeKey: bodyKey }) : body,
        headers,
      )
      expect(response.status, path).toBe(401)
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
        'unauthorized',
      )
    }
    const response = await post(
      '/capture/',
      JSON.stringify({ event: 'e', uuid: id, api_key: bodyKey }),
      headers,
    )
    expect(response.status).toBe(401)
    expect(stored(id)).toHaveLength(0)
  })

  it('answers 401, not 400, to a body without a key, whatever else is wrong with it', async () => {
    for (const [path, body] of [
      ['/v1/batch', '{}'],
      ['/v1/batch', '{"batch":"not an array"}'],
      ['/v1/b', '[]'],
      ['/v1/t', '"a string"'],
      ['/batch/', '{"batch":7}'],
      ['/capture/', 'null'],
    ] as const) {
      const response = await post(path, body)
      expect(response.status, `${path} ${body}`).toBe(401)
    }
    // with the key, the same bodies are judged: 400
    expect((await post('/v1/batch', '{"writeKey":"key-one"}')).status).toBe(400)
    expect((await post('/batch/', '{"api_key":"key-one","batch":7}')).status).toBe(400)
  })

  it('gives the events of a named key that key’s name as their source', async () => {
    const id = uniqueId('key')
    expect((await post('/v1/batch', segment(id), { authorization: basic('key-two') })).status).toBe(
      200,
    )
    expect(stored(id)[0]).toMatchObject({ source: 'web-app' })
  })

  it('keeps §3’s key check on the REST paths: a write key in a body or Basic auth opens nothing there', async () => {
    const events = JSON.stringify({ events: [{ type: 'x' }] })
    expect(
      (await post('/v1/events/batch', events, { authorization: basic('key-one') })).status,
    ).toBe(401)
    expect((await post('/v1/events/batch', events, { 'x-write-key': 'key-one' })).status).toBe(401)
    expect((await locked.app.request('/v1/batch/x')).status).toBe(401)
  })

  it('answers the settings only for a valid write key', async () => {
    expect((await locked.app.request('/v1/projects/key-one/settings')).status).toBe(200)
    expect((await locked.app.request('/v1/projects/key-three/settings')).status).toBe(401)
  })
})

describe('CORS on the drop-in paths', () => {
  it('allows the Authorization, Content-Type and X-Write-Key headers in preflights from allowed origins', async () => {
    for (const path of ['/v1/b', '/v1/t', '/batch/', '/v1/projects/key-one/settings']) {
      const response = await locked.app.request(path, {
        method: 'OPTIONS',
        headers: {
          origin: 'https://shop.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type,x-write-key',
        },
      })
      expect(response.status, path).toBe(204)
      expect(response.headers.get('access-control-allow-origin')).toBe('https://shop.example')
      const allowed = response.headers.get('access-control-allow-headers')!.toLowerCase()
      for (const header of ['authorization', 'content-type', 'x-write-key'])
        expect(allowed).toContain(header)
    }
  })

  it('puts Access-Control-Allow-Origin on answers and errors for allowed origins only', async () => {
    const origin = { origin: 'https://shop.example' }
    const ok = await post('/v1/batch', segment(uniqueId('cors')), {
      ...origin,
      'x-write-key': 'key-one',
    })
    expect(ok.status).toBe(200)
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://shop.example')
    const refused = await post('/v1/batch', segment(uniqueId('cors')), origin)
    expect(refused.status).toBe(401)
    expect(refused.headers.get('access-control-allow-origin')).toBe('https://shop.example')
    const malformed = await post('/v1/batch', '{"batch": [', {
      ...origin,
      'x-write-key': 'key-one',
    })
    expect(malformed.status).toBe(400)
    expect(malformed.headers.get('access-control-allow-origin')).toBe('https://shop.example')
    const elsewhere = await post('/v1/batch', segment(uniqueId('cors')), {
      origin: 'https://evil.example',
      'x-write-key': 'key-one',
    })
    expect(elsewhere.headers.get('access-control-allow-origin')).toBeNull()
  })
})
