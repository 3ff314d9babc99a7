import { randomUUID } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { from, lastValueFrom } from 'rxjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createClickHouseClient,
  createClickHouseSink,
} from '../../src/adapters/clickhouse/clickhouse-sink.js'
import { quoteString } from '../../src/adapters/clickhouse/clickhouse-schema.js'
import { CLICKHOUSE_URL, dropDatabase, REDIS_URL } from '../support/services.js'
import { launch, metric, type Instance } from './support/instance.js'
import {
  batch,
  bodyPositions,
  deepOrWide,
  FrameClient,
  framePositions,
  FRESH_ID,
  nested,
  toJson,
  type Expected,
  type Generated,
} from './support/hostile.js'
import { privateDatabase, readAllRows } from './support/stored.js'
import { posthogEvent } from '../../src/http/sdk/posthog-message.js'
import { segmentEvent, type SegmentCall } from '../../src/http/sdk/segment-message.js'

// Issue 7.6: random and adversarial JSON and frames thrown at both transports of a running Sluice
// (its own process, real Redis and ClickHouse). Every answer is a documented one, the process
// neither crashes nor keeps anything, and nothing invalid — nor anything not answered accepted —
// reaches ClickHouse. fast-check prints the seed and path of a failure: FC_SEED=<seed> replays it.

const database = privateDatabase('hostile')
const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED)
const runId = randomUUID().slice(0, 8)
let counter = 0
let sluice: Instance
let frames: FrameClient
/** every event answered accepted, as sent, by id (assigned ids included) */
const accepted = new Map<string, Record<string, unknown>>()
const statuses = new Map<string, number>()
const count = (key: string) => statuses.set(key, (statuses.get(key) ?? 0) + 1)

beforeAll(async () => {
  sluice = await launch({
    REDIS_URL,
    CLICKHOUSE_URL,
    CLICKHOUSE_DATABASE: database,
    INSERT_BATCH_MAX_WAIT_MS: '5',
    DEDUPE_TTL_SECONDS: '300',
  })
  frames = new FrameClient(sluice.wsUrl)
})
afterAll(async () => {
  await frames?.close()
  await sluice?.stop('SIGKILL')
  await dropDatabase(database)
})

const ERROR_CODES = new Set([
  'invalid_json',
  'invalid_event',
  'invalid_batch',
  'batch_too_large',
  'invalid_query',
  'invalid_request',
  'payload_too_large',
  'unsupported_media_type',
  'unauthorized',
  'not_found',
  'method_not_allowed',
  'overloaded',
  'storage_unavailable',
])
const WS_ERROR_CODES = new Set(['invalid_json', 'invalid_frame', 'too_many_events'])

/** The events of a body or frame as the server reads them (for remembering what a random one got accepted). */
function eventsOf(text: string, path: string): unknown[] {
  try {
    const value = JSON.parse(text)
    if (path === '/v1/events') return [value]
    if (path === '/v1/events/batch') return value.events
    if (Array.isArray(value)) return value
    return value?.op === 'publish' ? value.events : [value]
  } catch {
    return []
  }
}

function remember(events: unknown[], results: Array<{ id?: string; status: string }>): void {
  results.forEach((result, i) => {
    if (result.status === 'accepted')
      accepted.set(result.id!, { ...(events[i] as object), id: result.id })
  })
}

/** Puts a fresh id where the generator left FRESH_ID; returns the events as they will be sent. */
function withFreshIds(generated: readonly Generated[]): unknown[] {
  return generated.map(({ event }) => {
    if (
      event === null ||
      typeof event !== 'object' ||
      Array.isArray(event) ||
      (event as { id?: unknown }).id !== FRESH_ID
    )
      return event
    return { ...event, id: `hostile-${runId}-${counter++}` }
  })
}

/** One result per event, in order, each as the oracle expects; accepted ones are remembered. */
function checkResults(
  results: Array<{ index: number; id?: string; status: string; errors?: unknown[] }>,
  sent: unknown[],
  generated: readonly Generated[],
  via: string,
): void {
  expect(results).toHaveLength(sent.length)
  results.forEach((result, i) => {
    count(`${via}:${result.status}`)
    expect(result.index).toBe(i)
    expect(
      ['accepted', 'rejected'],
      `${via} event ${i}: ${toJson(sent[i]).slice(0, 300)} → ${JSON.stringify(result).slice(0, 300)}`,
    ).toContain(result.status)
    const expected: Expected = generated[i]!.expected
    if (expected !== 'any')
      expect(
        result.status,
        `${via} event ${i}: ${toJson(sent[i]).slice(0, 300)} → ${JSON.stringify(result).slice(0, 300)}`,
      ).toBe(expected)
    if (result.status === 'rejected') expect(result.errors?.length).toBeGreaterThan(0)
    if (result.status === 'accepted')
      accepted.set(result.id!, { ...(sent[i] as object), id: result.id })
  })
}

async function send(
  path: string,
  body: string | Buffer,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) {
  const response = await fetch(`${sluice.url}${path}`, { method: 'POST', body, headers })
  const text = await response.text()
  const requestId = response.headers.get('x-request-id')
  expect(requestId).toBeTruthy()
  let json: any
  try {
    json = JSON.parse(text)
  } catch {
    throw new Error(
      `${path} answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`,
    )
  }
  if (response.status >= 400) {
    // The one error shape, with a documented code, and never a stack trace.
    expect(ERROR_CODES, `${response.status} ${text.slice(0, 300)}`).toContain(json.error?.code)
    expect(json.error.requestId).toBe(requestId)
    expect(text).not.toMatch(/\n\s+at /)
  }
  return { status: response.status, json }
}

/**
 * How large an answer may be: one result for every event (about 115 bytes for a bare `0` in a frame,
 * which takes 2 bytes of it: the worst ratio there is), each with at most 20 issues of at most
 * 256-character paths. Proportionate and bounded by the frame and batch limits, never open-ended.
 */
const answerBound = (request: string) => Math.max(64 * request.length, 8 * 1024)

describe('hostile input', () => {
  it('REST and WebSocket answer random and adversarial events within the contract, event by event', async () => {
    await fc.assert(
      fc.asyncProperty(batch, async (generated) => {
        // REST batch
        const restEvents = withFreshIds(generated)
        const rest = await send('/v1/events/batch', toJson({ events: restEvents }))
        expect(rest.status).toBe(200)
        checkResults(rest.json.results, restEvents, generated, 'rest')
        // the same events in one WebSocket publish frame
        const wsEvents = withFreshIds(generated)
        const { reply } = await frames.send(toJson({ op: 'publish', events: wsEvents }))
        expect(reply?.op, JSON.stringify(reply)).toBe('ack')
        checkResults(reply!.results, wsEvents, generated, 'ws')
        // the first one alone over REST: 202, or 400 invalid_event with the same issues a batch result has
        const [single] = withFreshIds(generated.slice(0, 1))
        const one = await send('/v1/events', toJson(single))
        expect([202, 400], JSON.stringify(one.json)).toContain(one.status)
        if (one.status === 400) expect(one.json.error.code).toBe('invalid_event')
        const result =
          one.status === 202
            ? one.json
            : { index: 0, status: 'rejected', errors: one.json.error.issues }
        checkResults([result], [single], generated.slice(0, 1), 'rest-single')
      }),
      { numRuns: 80, seed, endOnFailure: true },
    )
  }, 120_000)

  it('REST answers malformed, truncated, compressed, oversized and mistyped bodies with documented errors', async () => {
    const body = (events: unknown[]) => JSON.stringify({ events })
    const whole = body([{ type: 'x' }, { type: 'y' }])
    const zipped = gzipSync(body([{ type: 'hostile.gzip' }]))
    const cases = fc.oneof(
      fc
        .string({ maxLength: 200 })
        .map((text) => ({ body: text, headers: {}, statuses: [200, 400] })),
      fc
        .uint8Array({ maxLength: 300 })
        .map((bytes) => ({ body: Buffer.from(bytes), headers: {}, statuses: [400] })),
      // cut short: never the whole body
      fc
        .nat({ max: whole.length - 1 })
        .map((cut) => ({ body: whole.slice(0, cut), headers: {}, statuses: [400] })),
      fc.nat({ max: zipped.length - 1 }).map((cut) => ({
        body: zipped.subarray(0, cut),
        headers: { 'content-encoding': 'gzip' },
        statuses: [400],
      })),
      fc.uint8Array({ maxLength: 100 }).map((bytes) => ({
        body: Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.from(bytes)]),
        headers: { 'content-encoding': 'gzip' },
        statuses: [400],
      })),
      fc
        .constantFrom(
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/xml',
        )
        .map((type) => ({
          body: body([{ type: 'x' }]),
          headers: { 'content-type': type },
          statuses: [415],
        })),
      fc.constantFrom('br', 'deflate', 'compress', 'gzip, gzip').map((encoding) => ({
        body: body([{ type: 'x' }]),
        headers: { 'content-encoding': encoding },
        statuses: [415],
      })),
    )
    await fc.assert(
      fc.asyncProperty(
        cases,
        fc.constantFrom('/v1/events', '/v1/events/batch'),
        async ({ body: raw, headers, statuses: allowed }, path) => {
          const { status, json } = await send(path, raw, {
            'content-type': 'application/json',
            ...headers,
          })
          // A string that happens to be JSON may be an event (202/400) or not a batch (400).
          expect([...allowed, 202], `${path} ${String(raw).slice(0, 80)}`).toContain(status)
          if (status === 202) remember(eventsOf(String(raw), path), [json])
          if (status === 200) remember(eventsOf(String(raw), path), json.results)
          count(`raw:${status}`)
        },
      ),
      { numRuns: 120, seed, endOnFailure: true },
    )

    // The extremes, each once: deep nesting, huge strings and arrays, past every limit.
    // Nesting past any valid request is refused before parsing (API.md §3): invalid_json, whole body.
    const deepArray = '['.repeat(1_000_000) + ']'.repeat(1_000_000)
    expect((await send('/v1/events', deepArray)).json.error.code).toBe('invalid_json')
    expect((await send('/v1/events/batch', deepArray)).json.error.code).toBe('invalid_json')
    expect((await send('/v1/events/batch', `{"events":[${deepArray}]}`)).json.error.code).toBe(
      'invalid_json',
    )
    const deepObject = `{"type":"hostile.deep","properties":${'{"d":'.repeat(200_000)}1${'}'.repeat(200_000)}}`
    expect((await send('/v1/events', deepObject)).json.error.code).toBe('invalid_json')
    expect(
      (
        await send(
          '/v1/events',
          JSON.stringify({ type: 'hostile.huge', properties: { s: 'x'.repeat(4 * 1024 * 1024) } }),
        )
      ).json.error.code,
    ).toBe('invalid_event')
    expect(
      (await send('/v1/events', JSON.stringify({ type: 'x'.repeat(4 * 1024 * 1024) }))).json.error
        .code,
    ).toBe('invalid_event')
    expect(
      (
        await send(
          '/v1/events/batch',
          JSON.stringify({ events: Array.from({ length: 100_000 }, () => 0) }),
        )
      ).json.error.code,
    ).toBe('batch_too_large')
    expect(
      (
        await send(
          '/v1/events/batch',
          JSON.stringify({
            events: [{ type: 'x', properties: { s: 'x'.repeat(6 * 1024 * 1024) } }],
          }),
        )
      ).status,
    ).toBe(413)
    expect(
      (
        await send('/v1/events/batch', gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x20)), {
          'content-encoding': 'gzip',
        })
      ).status,
    ).toBe(413)
    const deepest = { type: 'hostile.nested', properties: nested(32) }
    const took = await send('/v1/events', JSON.stringify(deepest))
    expect(took.status).toBe(202)
    remember([deepest], [took.json])
    expect(
      (await send('/v1/events', JSON.stringify({ type: 'hostile.nested', properties: nested(33) })))
        .json.error.code,
    ).toBe('invalid_event')
  }, 120_000)

  it('WebSocket answers random text, binary, control and oversized frames with one reply each, or a documented close', async () => {
    const frame = fc.oneof(
      fc.string({ maxLength: 200 }).map((text) => ({ data: text, binary: false })),
      fc
        .uint8Array({ maxLength: 200 })
        .map((bytes) => ({ data: Buffer.from(bytes), binary: true })),
      fc
        .record(
          {
            op: fc.oneof(
              fc.constantFrom(
                'publish',
                'subscribe',
                'unsubscribe',
                'ping',
                'PING',
                '__proto__',
                '',
              ),
              fc.jsonValue({ maxDepth: 1 }),
            ),
            extra: fc.jsonValue({ maxDepth: 2 }),
          },
          { requiredKeys: ['op'] },
        )
        .map((f) => ({ data: JSON.stringify(f), binary: false })),
      fc
        .record({
          op: fc.constant('subscribe'),
          types: fc.array(fc.string({ maxLength: 20 }), { maxLength: 5 }),
        })
        .map((f) => ({ data: JSON.stringify(f), binary: false })),
      fc
        .record({
          op: fc.constant('publish'),
          ref: fc.oneof(fc.string({ maxLength: 200 }), fc.integer()),
          events: fc.constant([{ type: 'hostile.ref' }]),
        })
        .map((f) => ({ data: JSON.stringify(f), binary: false })),
    )
    await fc.assert(
      fc.asyncProperty(frame, async ({ data, binary }) => {
        const { reply, closeCode, seq } = await frames.send(data, binary)
        expect(closeCode, `closed on ${String(data).slice(0, 80)}`).toBeUndefined()
        expect(reply?.seq).toBe(seq)
        expect(['ack', 'error', 'pong', 'subscribed', 'unsubscribed']).toContain(reply!.op)
        if (reply!.op === 'error') expect(WS_ERROR_CODES).toContain(reply!.code)
        if (binary) expect(reply).toMatchObject({ op: 'error', code: 'invalid_frame' })
        if (reply!.op === 'ack') remember(eventsOf(String(data), 'ws'), reply!.results)
        count(`frame:${reply!.op}:${reply!.code ?? ''}`)
      }),
      { numRuns: 150, seed, endOnFailure: true },
    )

    // The extremes: a deeply nested frame, too many events, over the frame limit, invalid UTF-8.
    const deep = await frames.send('['.repeat(400_000) + ']'.repeat(400_000))
    expect(deep.reply).toMatchObject({ op: 'error', code: 'invalid_json' })
    const many = await frames.send(
      JSON.stringify(Array.from({ length: 1001 }, () => ({ type: 'x' }))),
    )
    expect(many.reply).toMatchObject({ op: 'error', code: 'too_many_events' })
    expect((await frames.send('x'.repeat(1024 * 1024 + 1))).closeCode).toBe(1009)
    expect((await frames.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), false)).closeCode).toBe(1007)
    expect((await frames.send(JSON.stringify({ op: 'ping' }))).reply).toMatchObject({
      op: 'pong',
      seq: 1,
    })
  }, 120_000)

  it('answers deep, wide and long values in every position of frames, bodies, query strings and headers, in proportion', async () => {
    const WS_CODES = new Set([...WS_ERROR_CODES])
    await fc.assert(
      fc.asyncProperty(
        deepOrWide,
        fc.nat({ max: framePositions.length - 1 }),
        async (value, at) => {
          const text = framePositions[at]!(value)
          const { reply, closeCode, seq } = await frames.send(text)
          // a frame over WS_MAX_FRAME_BYTES closes with 1009, after its acks: the one documented close
          if (Buffer.byteLength(text) > 1024 * 1024) return void expect(closeCode).toBe(1009)
          expect(closeCode, `closed on ${text.slice(0, 80)}`).toBeUndefined()
          expect(reply?.seq).toBe(seq)
          if (reply!.op === 'error') expect(WS_CODES).toContain(reply!.code)
          if (reply!.op === 'ack') remember(eventsOf(text, 'ws'), reply!.results)
          expect(JSON.stringify(reply).length, text.slice(0, 80)).toBeLessThan(answerBound(text))
          count(`deep-frame:${reply!.op}:${reply!.code ?? ''}`)
        },
      ),
      { numRuns: 150, seed, endOnFailure: true },
    )
    await fc.assert(
      fc.asyncProperty(deepOrWide, fc.nat({ max: bodyPositions.length - 1 }), async (value, at) => {
        const [path, template] = bodyPositions[at]!
        const body = template(value)
        const response = await fetch(`${sluice.url}${path}`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
        })
        const text = await response.text()
        expect([200, 202, 400, 404, 413], `${path} ${body.slice(0, 80)}`).toContain(response.status)
        expect(text.length, body.slice(0, 80)).toBeLessThan(answerBound(body))
        const json = JSON.parse(text)
        if (response.status >= 400) expect(ERROR_CODES).toContain(json.error.code)
        if (response.status === 202) remember(eventsOf(body, path), [json])
        if (response.status === 200 && path === '/v1/events/batch')
          remember(eventsOf(body, path), json.results)
        count(`deep-body:${response.status}`)
      }),
      { numRuns: 120, seed, endOnFailure: true },
    )
    // query strings and headers: long, many, bracketed, deep-looking
    const queries = fc.oneof(
      fc
        .constantFrom(10, 1000)
        .map((n) => Array.from({ length: n }, (_, i) => `p${i}=${i}`).join('&')),
      fc
        .constantFrom(100, 8000)
        .map(
          (n) =>
            `type=${'t'.repeat(n)}&since=${'9'.repeat(n)}&limit=${'1'.repeat(Math.min(n, 500))}`,
        ),
      fc.constantFrom(5, 300).map((n) => `${'a[b]'.repeat(n)}=1&type[${'['.repeat(n)}]=x`),
      fc
        .string({ maxLength: 300 })
        .map((raw) => `type=${encodeURIComponent(raw)}&limit=${encodeURIComponent(raw)}`),
    )
    await fc.assert(
      fc.asyncProperty(
        queries,
        fc.constantFrom('/v1/events', '/v1/dead-letters'),
        async (query, path) => {
          const response = await fetch(`${sluice.url}${path}?${query}`)
          const text = await response.text()
          // invalid_request: a head over Node's 16 KiB, answered before Sluice sees the request
          expect([200, 400], `${path}?${query.slice(0, 80)}`).toContain(response.status)
          if (response.status === 400) {
            expect(['invalid_query', 'invalid_request']).toContain(JSON.parse(text).error.code)
            expect(text.length).toBeLessThan(Math.max(2 * query.length, 8 * 1024))
          }
        },
      ),
      { numRuns: 60, seed, endOnFailure: true },
    )
    const headers = fc.oneof(
      fc.constantFrom(100, 15_000).map((n) => ({ 'x-request-id': 'r'.repeat(n) })),
      fc
        .constantFrom(100, 20_000)
        .map((n) => ({ 'content-type': `application/json; charset=${'u'.repeat(n)}` })),
      fc
        .constantFrom(10, 500)
        .map((n) =>
          Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-h${i}`, 'v'.repeat(20)])),
        ),
      fc
        .constantFrom('gzip, '.repeat(50), 'identity;q=1'.repeat(100))
        .map((encoding) => ({ 'content-encoding': encoding })),
    )
    await fc.assert(
      fc.asyncProperty(headers, async (extra) => {
        const response = await fetch(`${sluice.url}/v1/events`, {
          method: 'POST',
          body: '{"type":"fuzz.header"}',
          headers: { 'content-type': 'application/json', ...extra },
        })
        const text = await response.text()
        expect([202, 400, 415], JSON.stringify(extra).slice(0, 80)).toContain(response.status)
        if (response.status === 202) remember([{ type: 'fuzz.header' }], [JSON.parse(text)])
        expect(text.length).toBeLessThan(1024)
      }),
      { numRuns: 30, seed, endOnFailure: true },
    )
    expect(sluice.alive).toBe(true)
  }, 240_000)

  it('refuses lone surrogates in the stored strings (ClickHouse cannot hold them) and keeps them intact inside properties', async () => {
    for (const event of [
      { id: `lone-${runId}-\ud800`, type: 'x' },
      { type: 'x', source: '\udfff' },
      { type: 'x', userId: 'a\ud83d' },
      { type: 'x', sessionId: '\udc00z' },
    ]) {
      const { status, json } = await send('/v1/events', JSON.stringify(event))
      expect(status).toBe(400)
      expect(json.error.issues.map((i: { path: string }) => i.path)).toEqual([
        Object.keys(event).find((key) => key !== 'type'),
      ])
    }
    const id = `lone-props-${runId}`
    const event = {
      id,
      type: 'hostile.surrogates',
      properties: { [`k\ud800`]: 'v\udfff', emoji: '😀' },
    }
    expect((await send('/v1/events', JSON.stringify(event))).json).toMatchObject({
      status: 'accepted',
    })
    accepted.set(id, event)
    const read = await fetch(`${sluice.url}/v1/events?type=hostile.surrogates`)
    expect(
      ((await read.json()) as { events: Array<{ properties: unknown }> }).events[0]!.properties,
    ).toEqual(event.properties)
  })

  it('a value the server cannot parse is a final error for the sink, not retried for the whole budget', async () => {
    const sink = createClickHouseSink({
      client: await createClickHouseClient({ url: CLICKHOUSE_URL }),
      database,
    })
    try {
      // Past validation (which refuses it), a time that is not an integer is what the server cannot parse.
      const error = await lastValueFrom(
        from(
          sink.write([
            {
              event: {
                id: `unparsable-${runId}`,
                type: 'x',
                timestamp: Number.NaN,
                receivedAt: 0,
                transport: 'rest',
              },
            },
          ]),
        ),
        { defaultValue: undefined },
      ).then(
        () => 'stored',
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(Error)
      expect(sink.isRetriable(error)).toBe(false)
    } finally {
      await sink.close()
    }
  })

  it('GET /v1/events takes any filter value without it reaching SQL as code', async () => {
    const before = (await readAllRows(CLICKHOUSE_URL, database)).length
    const filter = fc.record(
      {
        type: fc.oneof(
          fc.string(),
          fc.constantFrom(`x' OR '1'='1`, "x\\' OR 1=1 --", 'x%00', 'hostile.surrogates'),
        ),
        since: fc.oneof(fc.string(), fc.constantFrom('0 OR 1=1', '1; DROP TABLE raw_events')),
        limit: fc.oneof(fc.string(), fc.integer()),
      },
      { requiredKeys: [] },
    )
    await fc.assert(
      fc.asyncProperty(filter, async (query) => {
        const params = new URLSearchParams(
          Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]),
        )
        const response = await fetch(`${sluice.url}/v1/events?${params.toString()}`)
        expect([200, 400]).toContain(response.status)
        const json = (await response.json()) as {
          events?: Array<{ type: string }>
          error?: { code: string }
        }
        if (response.status === 400) expect(json.error!.code).toBe('invalid_query')
        else if (query.type !== undefined)
          for (const event of json.events!) expect(event.type).toBe(query.type)
      }),
      { numRuns: 150, seed, endOnFailure: true },
    )
    expect((await readAllRows(CLICKHOUSE_URL, database)).length).toBe(before)
  }, 60_000)

  it('quoteString, the one place a value becomes SQL text on 18.16, round-trips any string through the server', async () => {
    const client = await createClickHouseClient({ url: CLICKHOUSE_URL })
    try {
      const tricky = fc.constantFrom(
        "'",
        "\\'",
        '\\',
        "\\\\'",
        "' OR 1=1 --",
        '\0',
        '\n\r\t',
        "'; DROP TABLE raw_events; --",
        '\u2028',
        '`',
        '"',
        '?',
        '{p:String}',
      )
      await fc.assert(
        fc.asyncProperty(
          fc
            .array(fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), tricky), {
              minLength: 1,
              maxLength: 5,
            })
            .map((parts) => parts.join('')),
          async (value) => {
            const result = await client.query({
              query: `SELECT ${quoteString(value)} AS v`,
              format: 'JSONEachRow',
            })
            expect((await result.json<{ v: string }>())[0]!.v).toBe(value)
          },
        ),
        { numRuns: 200, seed, endOnFailure: true },
      )
    } finally {
      await client.close()
    }
  }, 60_000)

  it('the drop-in SDK paths answer random, malformed and mistyped SDK bodies with 200 and a result per message, or a documented error', async () => {
    const call = fc.constantFrom('track', 'identify', 'page', 'screen', 'group', 'alias')
    const text = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom('Order Completed', '$pageview', '!!!', '___', '', ' ', 'a'.repeat(200)),
    )
    // Each field is mostly well-formed, so that whole messages get through to storage too.
    const time = fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      {
        weight: 3,
        arbitrary: fc
          .integer({ min: 0, max: 4_102_444_800_000 })
          .map((ms) => new Date(ms).toISOString()),
      },
      fc.constantFrom('yesterday', '2026-02-30T00:00:00Z', 1.5, -1, null),
    )
    const fields = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), {
          maxKeys: 4,
        }),
      },
      fc.constantFrom('x', [1], 7, null, { $segment: 1 }, { $posthog: 1 }, nested(40)),
    )
    const id = fc.oneof(
      { weight: 6, arbitrary: fc.constant(FRESH_ID) },
      fc.constantFrom(undefined, 5, '', 'x'.repeat(129)),
    )
    const user = fc.oneof(
      { weight: 6, arbitrary: text },
      fc.constantFrom(undefined, 3, {}, 'u'.repeat(257)),
    )
    const segmentMessage = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record(
          {
            type: fc.oneof(
              { weight: 5, arbitrary: call },
              { weight: 1, arbitrary: fc.oneof(text, fc.constantFrom(7, null)) },
            ),
            messageId: id,
            event: fc.oneof(text, fc.constantFrom(undefined, 9)),
            userId: user,
            anonymousId: user,
            properties: fields,
            traits: fields,
            context: fields,
            timestamp: time,
            sentAt: time,
          },
          { requiredKeys: ['type'] },
        ),
      },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
    )
    const posthogMessage = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record(
          {
            event: fc.oneof(text, fc.constantFrom(undefined, [])),
            uuid: id,
            distinct_id: user,
            properties: fields,
            timestamp: time,
          },
          { requiredKeys: [] },
        ),
      },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
    )
    const segmentPath = fc.constantFrom(
      '/v1/batch',
      '/v1/import',
      '/v1/b',
      '/v1/track',
      '/v1/identify',
      '/v1/t',
      '/v1/p',
      '/v1/a',
    )
    const posthogPath = fc.constantFrom('/batch/', '/capture/', '/e/', '/i/v0/e/')
    const contentType = fc.constantFrom(
      'application/json',
      'text/plain',
      'application/x-www-form-urlencoded',
      '',
      'image/png',
    )
    // What is sent, how: a body as an SDK would build it (or broken on the way), to a path of its kind.
    const request = fc.record({
      kind: fc.constantFrom('segment', 'posthog'),
      segmentPath,
      posthogPath,
      segmentMessages: fc.array(segmentMessage, { minLength: 1, maxLength: 12 }),
      posthogMessages: fc.array(posthogMessage, { minLength: 1, maxLength: 12 }),
      batchContext: fc.oneof(fc.constant(undefined), fields),
      sentAt: time,
      wrapping: fc.constantFrom(
        'plain',
        'plain',
        'gzip',
        'gzip-no-header',
        'truncated-gzip',
        'corrupt-gzip',
        'truncated-json',
        'not-a-batch',
        'too-many',
      ),
      contentType,
    })
    const single = (path: string) => !['/v1/batch', '/v1/import', '/v1/b'].includes(path)
    const CALLS: Record<string, SegmentCall> = {
      '/v1/track': 'track',
      '/v1/t': 'track',
      '/v1/identify': 'identify',
      '/v1/p': 'page',
      '/v1/a': 'alias',
    }

    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const path = r.kind === 'segment' ? r.segmentPath : r.posthogPath
        // A single-call path takes one message: a long batch sent there is just a message with odd fields.
        const wrapping =
          r.kind === 'segment' && single(path) && r.wrapping === 'too-many' ? 'plain' : r.wrapping
        const messages = (r.kind === 'segment' ? r.segmentMessages : r.posthogMessages).map((m) =>
          m !== null &&
          typeof m === 'object' &&
          !Array.isArray(m) &&
          (m as Record<string, unknown>).messageId === FRESH_ID
            ? { ...m, messageId: `hostile-sdk-${runId}-${counter++}` }
            : m !== null &&
                typeof m === 'object' &&
                !Array.isArray(m) &&
                (m as Record<string, unknown>).uuid === FRESH_ID
              ? { ...m, uuid: `hostile-sdk-${runId}-${counter++}` }
              : m,
        )
        const envelope =
          r.kind === 'segment'
            ? single(path)
              ? messages[0]
              : { batch: messages, context: r.batchContext, sentAt: r.sentAt }
            : { api_key: 'k', batch: messages, sent_at: r.sentAt }
        const json =
          wrapping === 'not-a-batch'
            ? toJson(r.kind === 'segment' && single(path) ? [envelope] : 42)
            : wrapping === 'too-many'
              ? toJson({ batch: new Array(1001).fill(messages[0] ?? {}) })
              : toJson(envelope)
        const gzipped = gzipSync(json)
        const body =
          wrapping === 'gzip' || wrapping === 'gzip-no-header'
            ? gzipped
            : wrapping === 'truncated-gzip'
              ? gzipped.subarray(0, Math.max(2, gzipped.length >> 1))
              : wrapping === 'corrupt-gzip'
                ? Buffer.concat([gzipped.subarray(0, 10), Buffer.from('not deflate at all')])
                : wrapping === 'truncated-json'
                  ? json.slice(0, json.length >> 1)
                  : json
        const headers: Record<string, string> = { 'content-type': r.contentType }
        if (wrapping === 'gzip') headers['content-encoding'] = 'gzip'
        const { status, json: answer } = await send(path, body, headers)
        count(`sdk:${status}`)
        const malformed = [
          'truncated-gzip',
          'corrupt-gzip',
          'truncated-json',
          'not-a-batch',
          'too-many',
        ]
        if (
          malformed.includes(wrapping) ||
          (r.kind === 'segment' &&
            single(path) &&
            (envelope === null || typeof envelope !== 'object' || Array.isArray(envelope)))
        ) {
          expect(status, JSON.stringify(answer).slice(0, 300)).toBe(400)
          return
        }
        expect(status, JSON.stringify(answer).slice(0, 300)).toBe(200)
        const sent = r.kind === 'segment' && single(path) ? [envelope] : messages
        expect(answer.success).toBe(true)
        expect(answer.results).toHaveLength(sent.length)
        answer.results.forEach(
          (
            result: { index: number; id?: string; status: string; errors?: unknown[] },
            i: number,
          ) => {
            count(`sdk:${result.status}`)
            expect(result.index).toBe(i)
            expect(['accepted', 'rejected']).toContain(result.status)
            if (result.status === 'rejected') expect(result.errors?.length).toBeGreaterThan(0)
            if (result.status !== 'accepted') return
            // What storage must hold for it: the message mapped as §9 says, its time aside (it depends on the receive time).
            const frame = {
              context: r.kind === 'segment' && !single(path) ? r.batchContext : undefined,
              sentAt: r.kind === 'segment' && single(path) ? undefined : r.sentAt,
              receivedAt: Date.now(),
            }
            const mapped =
              r.kind === 'segment'
                ? segmentEvent(structuredClone(sent[i]), { ...frame, call: CALLS[path] })
                : posthogEvent(structuredClone(sent[i]), frame)
            expect(mapped.ok).toBe(true)
            const { timestamp: _time, ...event } = (mapped as { event: Record<string, unknown> })
              .event
            accepted.set(result.id!, { ...event, id: result.id })
          },
        )
      }),
      { numRuns: 150, seed, endOnFailure: true },
    )
  }, 120_000)

  it('afterwards: the process is up and holds nothing, and ClickHouse holds exactly the events answered accepted, as sent', async () => {
    await frames.close()
    expect(sluice.alive).toBe(true)
    expect((await fetch(`${sluice.url}/health`)).status).toBe(200)
    const values = await sluice.metrics()
    expect(metric(values, 'sluice_events_in_flight')).toBe(0)
    for (let i = 0; i < 50 && metric(await sluice.metrics(), 'sluice_ws_connections') > 0; i++)
      await new Promise((r) => setTimeout(r, 100))
    expect(metric(await sluice.metrics(), 'sluice_ws_connections')).toBe(0)
    expect(metric(values, 'sluice_events_total', 'status="failed"')).toBe(0)
    expect(sluice.memory().rssKb).toBeLessThan(1024 * 1024)
    console.info(
      `hostile input: ${accepted.size} accepted, answers ${JSON.stringify(Object.fromEntries([...statuses].sort()))}, RSS ${Math.round(sluice.memory().rssKb / 1024)} MiB (peak ${Math.round(sluice.memory().peakKb / 1024)} MiB)`,
    )

    const rows = await readAllRows(CLICKHOUSE_URL, database)
    expect(rows.map((row) => row.id).sort()).toEqual([...accepted.keys()].sort())
    // Times are UInt64 epoch ms on 18.16 (quoted in JSON), DateTime64 text on current servers.
    const ms = (value: unknown) =>
      typeof value === 'number' || /^\d+$/.test(String(value))
        ? Number(value)
        : Date.parse(`${String(value).replace(' ', 'T')}Z`)
    for (const row of rows) {
      const sent = JSON.parse(toJson(accepted.get(row.id as string)!)) as Record<string, unknown>
      expect(row.type).toBe(sent.type)
      expect(row.source).toBe(sent.source ?? '')
      expect(row.user_id).toBe(sent.userId ?? '')
      expect(row.session_id).toBe(sent.sessionId ?? '')
      if (sent.properties !== undefined)
        expect(JSON.parse(row.properties as string)).toEqual(sent.properties)
      if (typeof sent.timestamp === 'number') expect(ms(row.timestamp)).toBe(sent.timestamp)
      if (typeof sent.timestamp === 'string')
        expect(ms(row.timestamp)).toBe(Date.parse(sent.timestamp))
    }
  })
})
