import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMemoryStorage } from '../../src/testing.js'
import { fakeSluice, uniqueId } from '../support/services.js'

type Started = Awaited<ReturnType<typeof fakeSluice>>
let sluice: Started

beforeAll(async () => {
  sluice = await fakeSluice({ BATCH_MAX_EVENTS: '20', MAX_BODY_BYTES: '65536' })
})
afterAll(() => sluice.dispose())

const post = (
  path: string,
  body: unknown,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) =>
  sluice.app.request(path, {
    method: 'POST',
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    headers,
  })

type Answer = {
  success: boolean
  accepted: number
  duplicates: number
  rejected: number
  failed: number
  results: Array<{ index: number; id?: string; status: string; errors?: unknown[] }>
}
const stored = (id: string) => sluice.storage.rows.filter((row) => row.id === id)

describe('an SDK sending a message again', () => {
  it('is told duplicate, not conflict, though its sentAt and so its corrected timestamp changed; other content is a conflict', async () => {
    const id = uniqueId('retry')
    const message = {
      type: 'track',
      messageId: id,
      event: 'Order Completed',
      userId: 'u-1',
      properties: { total: 5 },
      timestamp: '2026-11-26T10:00:00.000Z',
    }
    const first = await post('/v1/batch', { batch: [message], sentAt: '2026-11-26T10:00:01.000Z' })
    expect(((await first.json()) as Answer).results[0]).toMatchObject({ status: 'accepted' })
    // the SDK's retry, seconds later: a new sentAt, the same message
    const retry = await post('/v1/batch', { batch: [message], sentAt: '2026-11-26T10:00:07.500Z' })
    expect(((await retry.json()) as Answer).results[0]).toEqual({
      index: 0,
      id,
      status: 'duplicate',
    })
    // PostHog's the same way, with sent_at
    const uuid =
      '0190f3a0-0000-7000-8000-' +
      id
        .replace(/[^0-9a-f]/g, '')
        .padEnd(12, '0')
        .slice(0, 12)
    const capture = {
      event: 'signup',
      distinct_id: 'd-1',
      uuid,
      timestamp: '2026-11-26T10:00:00.000Z',
    }
    await post('/batch/', { batch: [capture], sent_at: '2026-11-26T10:00:01.000Z' })
    const again = await post('/batch/', { batch: [capture], sent_at: '2026-11-26T10:00:09.000Z' })
    expect(((await again.json()) as Answer).results[0]).toEqual({
      index: 0,
      id: uuid,
      status: 'duplicate',
    })
    // the same messageId with other content is still an id collision
    const other = await post('/v1/batch', {
      batch: [{ ...message, properties: { total: 6 } }],
      sentAt: '2026-11-26T10:00:09.000Z',
    })
    expect(((await other.json()) as Answer).results[0]).toEqual({
      index: 0,
      id,
      status: 'duplicate',
      conflict: true,
    })
    expect(stored(id)).toHaveLength(1)
  })
})

describe('Segment batch paths', () => {
  it.each(['/v1/batch', '/v1/import', '/v1/b'])(
    'stores each message of a batch sent to %s once, mapped, and answers 200 with per-event results',
    async (path) => {
      const id = uniqueId('seg')
      const body = {
        batch: [
          {
            type: 'track',
            messageId: id,
            event: 'Order Completed',
            userId: 'u-1',
            properties: { total: 5 },
            timestamp: '2026-11-26T10:00:00.000Z',
          },
        ],
        sentAt: '2026-11-26T10:00:00.000Z',
      }
      const response = await post(path, body)
      expect(response.status).toBe(200)
      expect(await response.json()).toEqual({
        success: true,
        accepted: 1,
        duplicates: 0,
        rejected: 0,
        failed: 0,
        results: [{ index: 0, id, status: 'accepted' }],
      })
      const [row] = stored(id)
      expect(row).toMatchObject({ type: 'Order_Completed', userId: 'u-1', transport: 'rest' })
      expect(row!.properties).toMatchObject({ total: 5, $segment: { event: 'Order Completed' } })
      const again = await post(path, body)
      expect(((await again.json()) as Answer).results[0]!.status).toBe('duplicate')
      expect(stored(id)).toHaveLength(1)
    },
  )
})

describe('PostHog paths', () => {
  it.each(['/batch/', '/capture/', '/e/', '/i/v0/e/'])(
    'stores a posthog-node batch sent to %s, keeping $pageview, and answers 200',
    async (path) => {
      const uuid = uniqueId('ph')
      const response = await post(path, {
        api_key: 'phc_x',
        batch: [{ event: '$pageview', distinct_id: 'd-1', uuid, properties: { a: 1 } }],
        sent_at: new Date().toISOString(),
      })
      expect(response.status).toBe(200)
      expect(((await response.json()) as Answer).results).toEqual([
        { index: 0, id: uuid, status: 'accepted' },
      ])
      expect(stored(uuid)[0]).toMatchObject({ type: '$pageview', userId: 'd-1' })
    },
  )

  it('inflates a gzip body sent without Content-Encoding (posthog-js compression=gzip-js)', async () => {
    const uuid = uniqueId('ph')
    const body = gzipSync(JSON.stringify([{ event: 'clicked', distinct_id: 'd-2', uuid }]))
    const response = await post('/e/?compression=gzip-js', new Uint8Array(body), {
      'content-type': 'text/plain',
    })
    expect(response.status).toBe(200)
    expect(stored(uuid)[0]).toMatchObject({ type: 'clicked', userId: 'd-2' })
  })
})

describe('Segment single-call paths', () => {
  it.each([
    ['/v1/track', { event: 'Signed Up' }, 'Signed_Up'],
    ['/v1/t', { event: 'Signed Up' }, 'Signed_Up'],
    ['/v1/identify', { traits: { plan: 'pro' } }, 'identify'],
    ['/v1/i', { traits: { plan: 'pro' } }, 'identify'],
    ['/v1/page', { name: 'Home', properties: { path: '/' } }, 'page'],
    ['/v1/p', { name: 'Home', properties: { path: '/' } }, 'page'],
    ['/v1/screen', { name: 'Feed' }, 'screen'],
    ['/v1/s', { name: 'Feed' }, 'screen'],
    ['/v1/group', { groupId: 'g-1', traits: { name: 'Acme' } }, 'group'],
    ['/v1/g', { groupId: 'g-1', traits: { name: 'Acme' } }, 'group'],
    ['/v1/alias', { previousId: 'anon-1' }, 'alias'],
    ['/v1/a', { previousId: 'anon-1' }, 'alias'],
  ])('stores one message sent to %s as the call the path names', async (path, fields, type) => {
    const id = uniqueId('call')
    const response = await post(
      path,
      { ...fields, messageId: id, userId: 'u-2' },
      {
        'content-type': 'text/plain',
      },
    )
    expect(response.status).toBe(200)
    expect(((await response.json()) as Answer).results).toEqual([
      { index: 0, id, status: 'accepted' },
    ])
    expect(stored(id)[0]).toMatchObject({ type, userId: 'u-2' })
  })
})

describe('bodies as the SDKs send them', () => {
  const batchOf = (id: string) =>
    JSON.stringify({ batch: [{ type: 'track', event: 'e', messageId: id }] })

  it.each([
    ['application/json', {}, false],
    ['text/plain (analytics.js)', { 'content-type': 'text/plain;charset=UTF-8' }, false],
    [
      'gzip labelled x-www-form-urlencoded with Content-Encoding (RudderStack)',
      { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' },
      true,
    ],
    ['gzip without Content-Encoding', { 'content-type': 'application/octet-stream' }, true],
    ['no Content-Type at all', { 'content-type': '' }, false],
  ])('reads a body sent as %s', async (_form, headers, gzip) => {
    const id = uniqueId('body')
    const text = batchOf(id)
    const response = await post('/v1/batch', gzip ? new Uint8Array(gzipSync(text)) : text, {
      'content-type': 'application/json',
      ...headers,
    })
    expect(response.status).toBe(200)
    expect(stored(id)).toHaveLength(1)
  })

  it('takes PostHog bodies as one message, an array of messages, or a batch, on every PostHog path', async () => {
    const [a, b, c] = [uniqueId('ph'), uniqueId('ph'), uniqueId('ph')]
    expect(
      (await post('/capture/', { api_key: 'k', event: 'one', uuid: a, distinct_id: 'd' })).status,
    ).toBe(200)
    expect((await post('/i/v0/e/', [{ event: 'two', uuid: b }])).status).toBe(200)
    expect((await post('/e/', { batch: [{ event: 'three', uuid: c }] })).status).toBe(200)
    expect([a, b, c].map((id) => stored(id)[0]?.type)).toEqual(['one', 'two', 'three'])
  })
})

describe('answers', () => {
  it('answers 200 with one result per message in order when some are rejected, and stores the others', async () => {
    const [good, dup, bad] = [uniqueId('ok'), uniqueId('dup'), uniqueId('bad')]
    const response = await post('/v1/batch', {
      batch: [
        { type: 'track', event: 'A', messageId: good },
        { type: 'track', messageId: bad },
        'not a message',
        { type: 'purchase', messageId: uniqueId('bad') },
        { type: 'track', event: 'B', messageId: dup },
        { type: 'track', event: 'B', messageId: dup },
        { type: 'track', event: 'C', messageId: 'x'.repeat(129) },
      ],
    })
    expect(response.status).toBe(200)
    const answer = (await response.json()) as Answer
    expect(answer).toMatchObject({
      success: true,
      accepted: 2,
      duplicates: 1,
      rejected: 4,
      failed: 0,
    })
    expect(answer.results.map((r) => [r.index, r.status])).toEqual([
      [0, 'accepted'],
      [1, 'rejected'],
      [2, 'rejected'],
      [3, 'rejected'],
      [4, 'accepted'],
      [5, 'duplicate'],
      [6, 'rejected'],
    ])
    expect(answer.results[1]).toEqual({
      index: 1,
      id: bad,
      status: 'rejected',
      errors: [{ path: 'event', message: 'a track needs an event name' }],
    })
    expect(answer.results[6]!.errors).toEqual([expect.objectContaining({ path: 'id' })])
    expect(stored(good)).toHaveLength(1)
    expect(stored(bad)).toHaveLength(0)
    expect(stored(dup)).toHaveLength(1)
  })

  it.each([
    ['not JSON', '/v1/batch', '{"batch": [', 'invalid_json'],
    ['not JSON (PostHog)', '/batch/', 'batch=1', 'invalid_json'],
    ['not an object', '/v1/batch', '[1]', 'invalid_batch'],
    ['an object without a batch', '/v1/batch', '{"events": []}', 'invalid_batch'],
    ['a batch that is not an array', '/v1/import', '{"batch": {}}', 'invalid_batch'],
    ['an empty batch', '/v1/b', '{"batch": []}', 'invalid_batch'],
    [
      'a batch over BATCH_MAX_EVENTS',
      '/v1/batch',
      JSON.stringify({ batch: new Array(21).fill({}) }),
      'batch_too_large',
    ],
    [
      'a PostHog batch over BATCH_MAX_EVENTS',
      '/e/',
      JSON.stringify(new Array(21).fill({ event: 'e' })),
      'batch_too_large',
    ],
    ['a number for PostHog', '/capture/', '42', 'invalid_batch'],
    ['an array on a single-call path', '/v1/track', '[]', 'invalid_event'],
    [
      'a corrupt gzip body',
      '/v1/batch',
      new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]),
      'invalid_json',
    ],
    [
      'a truncated gzip body',
      '/batch/',
      new Uint8Array(gzipSync('{"batch":[{"event":"e"}]}').subarray(0, 20)),
      'invalid_json',
    ],
    ['invalid UTF-8', '/v1/batch', new Uint8Array([0x7b, 0xff, 0x7d]), 'invalid_json'],
  ])(
    'answers an unusable body (%s) with 400 in the error shape, storing nothing',
    async (_case, path, body, code) => {
      const before = sluice.storage.rows.length
      const response = await post(path, body, { 'content-type': 'text/plain' })
      expect(response.status).toBe(400)
      const error = ((await response.json()) as { error: { code: string; requestId: string } })
        .error
      expect(error.code).toBe(code)
      expect(error.requestId).toBe(response.headers.get('x-request-id'))
      expect(sluice.storage.rows.length).toBe(before)
    },
  )

  it('answers 413 for a body over MAX_BODY_BYTES, also when it grows that large inflated', async () => {
    const big = JSON.stringify({
      batch: [{ type: 'track', event: 'e', properties: { pad: 'x'.repeat(70_000) } }],
    })
    expect((await post('/v1/batch', big)).status).toBe(413)
    expect(
      (await post('/batch/', new Uint8Array(gzipSync(big)), { 'content-type': 'text/plain' }))
        .status,
    ).toBe(413)
  })

  it('answers another method on a drop-in path with 405 and Allow', async () => {
    const response = await sluice.app.request('/v1/batch')
    expect(response.status).toBe(405)
    expect(response.headers.get('allow')).toBe('POST')
  })

  it('answers 429 overloaded with Retry-After when admission refuses the messages', async () => {
    const small = await fakeSluice({
      MAX_INFLIGHT_EVENTS: '10',
      WS_MAX_EVENTS_PER_FRAME: '10',
      BATCH_MAX_EVENTS: '20',
    })
    try {
      const batch = Array.from({ length: 11 }, () => ({
        type: 'track',
        event: 'e',
        messageId: uniqueId('over'),
      }))
      for (const [path, body] of [
        ['/v1/batch', { batch }],
        ['/batch/', { batch: batch.map(() => ({ event: 'e' })) }],
      ] as const) {
        const response = await small.app.request(path, {
          method: 'POST',
          body: JSON.stringify(body),
        })
        expect(response.status).toBe(429)
        expect(response.headers.get('retry-after')).toBe('1')
        expect(((await response.json()) as { error: { code: string } }).error.code).toBe(
          'overloaded',
        )
      }
      expect(small.storage.rows).toHaveLength(0)
    } finally {
      await small.dispose()
    }
  })

  it('answers 503 storage_unavailable with Retry-After and every result when a message could not be committed', async () => {
    let storageDown = false
    const down = await fakeSluice({ INSERT_RETRY_BUDGET_MS: '0' }, undefined, {
      sink: createMemoryStorage({ down: () => storageDown }),
    })
    try {
      storageDown = true
      const id = uniqueId('down')
      const response = await down.app.request('/v1/batch', {
        method: 'POST',
        body: JSON.stringify({
          batch: [{ type: 'track', event: 'e', messageId: id }, { type: 'track' }],
        }),
      })
      expect(response.status).toBe(503)
      expect(response.headers.get('retry-after')).toBe('5')
      const body = (await response.json()) as Answer & { error: { code: string } }
      expect(body).toMatchObject({ success: false, accepted: 0, rejected: 1, failed: 1 })
      expect(body.error.code).toBe('storage_unavailable')
      expect(body.results.map((r) => r.status)).toEqual(['failed', 'rejected'])
    } finally {
      await down.dispose()
    }
  })
})

describe('GET /v1/projects/{writeKey}/settings', () => {
  it("answers analytics.js's settings with the Segment.io integration pointing at the host the request came to", async () => {
    const response = await sluice.app.request(
      'http://sluice.internal:3001/v1/projects/wk-1/settings',
      {
        headers: { host: 'events.example:8443' },
      },
    )
    expect(response.status).toBe(200)
    const settings = (await response.json()) as { integrations: Record<string, unknown> }
    expect(Object.keys(settings.integrations)).toEqual(['Segment.io'])
    expect(settings.integrations['Segment.io']).toMatchObject({
      apiKey: 'wk-1',
      apiHost: 'events.example:8443/v1',
      protocol: 'http',
    })
  })

  it('falls back to the URL’s host when the Host header is not a host', async () => {
    const response = await sluice.app.request(
      'http://sluice.internal:3001/v1/projects/wk-1/settings',
      {
        headers: { host: 'evil.example/"><script>' },
      },
    )
    const settings = (await response.json()) as {
      integrations: { 'Segment.io': { apiHost: string } }
    }
    expect(settings.integrations['Segment.io'].apiHost).toBe('sluice.internal:3001/v1')
  })

  const segmentIo = async (app: Started['app'], headers: Record<string, string>) => {
    const response = await app.request('http://sluice.internal:3001/v1/projects/wk-1/settings', {
      headers,
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('vary')).toMatch(/X-Forwarded-Proto/)
    const settings = (await response.json()) as {
      integrations: { 'Segment.io': { apiHost: string; protocol: string } }
    }
    const { apiHost, protocol } = settings.integrations['Segment.io']
    return { apiHost, protocol }
  }

  it('points the page behind a TLS proxy at https, from X-Forwarded-Proto and X-Forwarded-Host', async () => {
    expect(
      await segmentIo(sluice.app, {
        host: 'sluice.internal:3001',
        'x-forwarded-proto': 'https, http',
        'x-forwarded-host': 'events.example.com',
      }),
    ).toEqual({ apiHost: 'events.example.com/v1', protocol: 'https' })
  })

  it('reads the first proxy of an RFC 7239 Forwarded header, quoted or not', async () => {
    expect(
      await segmentIo(sluice.app, {
        forwarded: 'for=192.0.2.60;proto=https;host="[2001:db8::1]:8443", for=10.0.0.1;proto=http',
      }),
    ).toEqual({ apiHost: '[2001:db8::1]:8443/v1', protocol: 'https' })
  })

  it('echoes no forwarded value that is not a scheme of the two or a host', async () => {
    expect(
      await segmentIo(sluice.app, {
        host: 'sluice.internal:3001',
        'x-forwarded-proto': 'javascript',
        'x-forwarded-host': 'evil.example/"><script>',
      }),
    ).toEqual({ apiHost: 'sluice.internal:3001/v1', protocol: 'http' })
  })

  it('takes PUBLIC_URL over any header: scheme, host and the path prefix the proxy serves Sluice under', async () => {
    const proxied = await fakeSluice({ PUBLIC_URL: 'https://example.com/ingest/' })
    try {
      expect(
        await segmentIo(proxied.app, { host: 'sluice.internal:3001', 'x-forwarded-proto': 'http' }),
      ).toEqual({ apiHost: 'example.com/ingest/v1', protocol: 'https' })
    } finally {
      await proxied.dispose()
    }
  })
})
