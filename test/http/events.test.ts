import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fakeSluice, uniqueId } from '../support/services.js'

type Started = Awaited<ReturnType<typeof fakeSluice>>
let sluice: Started

beforeAll(async () => {
  sluice = await fakeSluice({ BATCH_MAX_EVENTS: '50', MAX_BODY_BYTES: '65536' })
})
afterAll(() => sluice.dispose())

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  sluice.app.request(path, {
    method: 'POST',
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  })

const errorOf = async (response: Response) =>
  (
    (await response.json()) as {
      error: {
        code: string
        message: string
        requestId: string
        issues?: Array<{ path: string; message: string }>
      }
    }
  ).error

describe('POST /v1/events', () => {
  it('answers 202 accepted once the event is stored, and 202 duplicate for the same event again', async () => {
    const id = uniqueId()
    const event = {
      id,
      type: 'page_view',
      timestamp: '2026-11-26T10:00:00.123Z',
      properties: { path: '/' },
    }
    const first = await post('/v1/events', event)
    expect(first.status).toBe(202)
    expect(await first.json()).toEqual({ index: 0, id, status: 'accepted' })
    expect(await sluice.sink.count({ ids: [id] })).toBe(1)
    const again = await post('/v1/events', event)
    expect(await again.json()).toEqual({ index: 0, id, status: 'duplicate' })
    const collision = await post('/v1/events', { ...event, properties: { path: '/other' } })
    expect(await collision.json()).toEqual({ index: 0, id, status: 'duplicate', conflict: true })
  })

  it('assigns a UUIDv7 to an event sent without an id', async () => {
    const response = await post('/v1/events', { type: 'page_view' })
    const result = (await response.json()) as { id: string; status: string }
    expect(result.status).toBe('accepted')
    expect(result.id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    )
  })

  it('answers 400 invalid_event with the issues of a rejected event, and stores nothing', async () => {
    const id = uniqueId()
    const response = await post('/v1/events', { id, type: 'no spaces allowed' })
    expect(response.status).toBe(400)
    const error = await errorOf(response)
    expect(error.code).toBe('invalid_event')
    expect(error.issues).toEqual([{ path: 'type', message: expect.stringContaining('must match') }])
    expect(await sluice.sink.count({ ids: [id] })).toBe(0)
  })
})

// API.md §1, one row per rule: the event, and the path its error names.
const rejections: Array<[string, unknown, string]> = [
  ['a body that is not an object', [1, 2], ''],
  ['an unknown top-level key, named', { type: 't', colour: 'red' }, 'colour'],
  ['a missing type', { id: 'x' }, 'type'],
  ['an empty type', { type: '' }, 'type'],
  ['a type over 128 chars', { type: 'a'.repeat(129) }, 'type'],
  ['a type that starts with a symbol', { type: '.page' }, 'type'],
  ['a type with a space', { type: 'page view' }, 'type'],
  ['a type that is not a string', { type: 7 }, 'type'],
  ['an empty id', { id: '', type: 't' }, 'id'],
  ['an id over 128 chars', { id: 'i'.repeat(129), type: 't' }, 'id'],
  ['an id that is a number', { id: 5, type: 't' }, 'id'],
  ['a timestamp in another format', { type: 't', timestamp: '26/11/2026' }, 'timestamp'],
  ['a numeric string timestamp', { type: 't', timestamp: '1764151200123' }, 'timestamp'],
  ['a date that does not exist', { type: 't', timestamp: '2026-02-30T10:00:00Z' }, 'timestamp'],
  ['a timestamp before 1970', { type: 't', timestamp: '1969-12-31T23:59:59.999Z' }, 'timestamp'],
  ['a timestamp from 2100 on', { type: 't', timestamp: '2100-01-01T00:00:00Z' }, 'timestamp'],
  ['epoch ms from 2100 on', { type: 't', timestamp: 4_102_444_800_000 }, 'timestamp'],
  ['negative epoch ms', { type: 't', timestamp: -1 }, 'timestamp'],
  ['fractional epoch ms', { type: 't', timestamp: 1_764_151_200_123.5 }, 'timestamp'],
  ['a source over 128 chars', { type: 't', source: 's'.repeat(129) }, 'source'],
  ['a userId over 256 chars', { type: 't', userId: 'u'.repeat(257) }, 'userId'],
  ['a sessionId over 256 chars', { type: 't', sessionId: 's'.repeat(257) }, 'sessionId'],
  ['properties that are an array', { type: 't', properties: [1] }, 'properties'],
  ['properties that are null', { type: 't', properties: null }, 'properties'],
  [
    'properties over 32 KiB',
    { type: 't', properties: { blob: 'x'.repeat(33 * 1024) } },
    'properties',
  ],
  ['properties nested 33 levels', { type: 't', properties: nest(32) }, 'properties'],
  [
    'a __proto__ key at depth',
    { type: 't', properties: JSON.parse('{"a":{"__proto__":{"x":1}}}') },
    'properties.a.__proto__',
  ],
  ['a constructor key', { type: 't', properties: { constructor: 1 } }, 'properties.constructor'],
  [
    'a prototype key in an array item',
    { type: 't', properties: { items: [{ prototype: 1 }] } },
    'properties.items.0.prototype',
  ],
]

function nest(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: true }
  for (let i = 0; i < levels; i++) value = { next: value }
  return value
}

describe('API.md §1: each rejection rule', () => {
  it.each(rejections)('rejects %s', async (_name, event, path) => {
    const response = await post('/v1/events', event)
    expect(response.status).toBe(400)
    const error = await errorOf(response)
    expect(error.code).toBe('invalid_event')
    expect(error.issues?.map((issue) => issue.path)).toContain(path)
  })

  it('accepts the edges of every rule', async () => {
    const edges = [
      { type: 'A', timestamp: 0 },
      { type: 'checkout.completed:v2/eu-west_1', timestamp: '2099-12-31T23:59:59.999Z' },
      {
        type: 't',
        timestamp: '2026-11-26T12:00:00.123456+02:00',
        id: 'i'.repeat(128) + uniqueId().slice(0, 0),
      },
      {
        type: 'a'.repeat(128),
        source: 's'.repeat(128),
        userId: 'u'.repeat(256),
        sessionId: 's'.repeat(256),
      },
      { type: 't', properties: nest(31) },
      { type: 't', properties: { blob: 'x'.repeat(32 * 1024 - 20) } },
    ].map((event, i) => ({ ...event, id: `${uniqueId('edge')}-${i}` }))
    const response = await post('/v1/events/batch', { events: edges })
    const body = (await response.json()) as { results: Array<{ status: string; errors?: unknown }> }
    expect(body.results.map((r) => r.errors ?? r.status)).toEqual(edges.map(() => 'accepted'))
  })
})

describe('POST /v1/events/batch', () => {
  it('answers every event in order: accepted, rejected, duplicate in the same request, and counts them', async () => {
    const [a, b] = [uniqueId(), uniqueId()]
    const response = await post('/v1/events/batch', {
      events: [
        { id: a, type: 'x' },
        { id: b, type: 'bad type' },
        { id: a, type: 'x' },
        { type: 'y' },
      ],
    })
    expect(response.status).toBe(200)
    const body = (await response.json()) as {
      results: Array<{ index: number; id?: string; status: string }>
    }
    expect(body).toMatchObject({ accepted: 2, duplicates: 1, rejected: 1, failed: 0 })
    expect(body.results.map((r) => [r.index, r.status])).toEqual([
      [0, 'accepted'],
      [1, 'rejected'],
      [2, 'duplicate'],
      [3, 'accepted'],
    ])
    expect(body.results[1]!.id).toBe(b)
    expect(await sluice.sink.count({ ids: [a, b] })).toBe(1)
  })

  it.each([
    ['a body that is an array', [{ type: 'x' }], 'invalid_batch'],
    ['an empty events array', { events: [] }, 'invalid_batch'],
    ['events that are not an array', { events: { type: 'x' } }, 'invalid_batch'],
    ['a key other than events', { events: [{ type: 'x' }], extra: true }, 'invalid_batch'],
    [
      'more than BATCH_MAX_EVENTS events',
      { events: Array.from({ length: 51 }, () => ({ type: 'x' })) },
      'batch_too_large',
    ],
  ])('refuses %s with 400 %s', async (_name, body, code) => {
    const response = await post('/v1/events/batch', body)
    expect(response.status).toBe(400)
    expect((await errorOf(response)).code).toBe(code)
  })
})

describe('every request', () => {
  it('answers malformed JSON with 400 invalid_json and the position', async () => {
    const response = await post('/v1/events/batch', '{"events": [ {"type": "x"}, ]}')
    expect(response.status).toBe(400)
    const error = await errorOf(response)
    expect(error).toMatchObject({ code: 'invalid_json', message: 'malformed JSON at position 28' })
  })

  it('echoes a well-formed X-Request-Id in the header and the error body, and replaces a malformed one with a UUID', async () => {
    const echoed = await post(
      '/v1/events',
      { type: 'bad type' },
      { 'x-request-id': 'client-req.42_A' },
    )
    expect(echoed.headers.get('x-request-id')).toBe('client-req.42_A')
    expect((await errorOf(echoed)).requestId).toBe('client-req.42_A')
    const replaced = await post('/v1/events', '{', { 'x-request-id': 'has spaces and / slashes' })
    const generated = replaced.headers.get('x-request-id')!
    expect(generated).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
    expect((await errorOf(replaced)).requestId).toBe(generated)
    const health = await sluice.app.request('/health')
    expect(health.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('reads a body without a content type as JSON and refuses other content types with 415', async () => {
    // (a string body would get text/plain from the Request constructor; bytes get no content type)
    const untyped = await sluice.app.request('/v1/events', {
      method: 'POST',
      body: new TextEncoder().encode(JSON.stringify({ type: 'x' })),
    })
    expect(untyped.status).toBe(202)
    const form = await post('/v1/events', 'type=x', {
      'content-type': 'application/x-www-form-urlencoded',
    })
    expect(form.status).toBe(415)
    expect((await errorOf(form)).code).toBe('unsupported_media_type')
  })

  it('answers a body over MAX_BODY_BYTES with 413, also when it only grows that large inflated', async () => {
    const big = JSON.stringify({
      events: [{ type: 'x', properties: { blob: 'x'.repeat(70_000) } }],
    })
    const plain = await post('/v1/events/batch', big)
    expect(plain.status).toBe(413)
    expect((await errorOf(plain)).code).toBe('payload_too_large')
    const bomb = gzipSync(Buffer.from(big))
    expect(bomb.length).toBeLessThan(65536)
    const inflated = await post('/v1/events/batch', new Uint8Array(bomb), {
      'content-encoding': 'gzip',
    })
    expect(inflated.status).toBe(413)
  })

  it('inflates a gzip body', async () => {
    const id = uniqueId()
    const response = await post(
      '/v1/events',
      new Uint8Array(gzipSync(JSON.stringify({ id, type: 'zipped' }))),
      { 'content-encoding': 'gzip' },
    )
    expect(await response.json()).toEqual({ index: 0, id, status: 'accepted' })
  })

  it('answers an unknown path with 404 and a known path with the wrong method with 405, in the error shape', async () => {
    const missing = await sluice.app.request('/v1/nothing')
    expect(missing.status).toBe(404)
    expect((await errorOf(missing)).code).toBe('not_found')
    const wrong = await sluice.app.request('/v1/events/batch', { method: 'PUT' })
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get('allow')).toBe('POST')
    expect((await errorOf(wrong)).code).toBe('method_not_allowed')
  })

  it('answers GET /health with status, request id and uptime', async () => {
    const response = await sluice.app.request('/health', { headers: { 'x-request-id': 'probe-1' } })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({
      status: 'ok',
      requestId: 'probe-1',
      uptimeSeconds: expect.any(Number),
    })
  })
})
