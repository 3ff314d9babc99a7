import fc from 'fast-check'
import WebSocket from 'ws'

/*
 * Arbitraries for the hostile-input tests, and an oracle that knows what each generated event must
 * get — from how it was made, not from the schema the server validates with.
 */

/** Where a generated event's id goes: the test puts a fresh id there at send time (so replays of a run stay new). */
export const FRESH_ID = '\u0000fresh-id\u0000'

/** A JSON token JSON.stringify cannot write (1e400, a 30-digit integer): `toJson` puts it in raw. */
export const raw = (token: string) => `\u0000raw:${token}\u0000`
export function toJson(value: unknown): string {
  return JSON.stringify(value).replace(/"\\u0000raw:([^"\\]*)\\u0000"/g, '$1')
}

export type Expected = 'accepted' | 'rejected' | 'any'
export interface Generated {
  readonly expected: Expected
  readonly event: unknown
}

const MAX_TIMESTAMP = Date.UTC(2100, 0, 1)
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype'])

/** The independent oracle for `properties`: a plain object, nesting ≤ 32, ≤ 32 KiB serialized, no forbidden key anywhere. */
export function propertiesValid(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  let deepest = 0
  let forbidden = false
  const walk = (node: unknown, depth: number) => {
    if (node === null || typeof node !== 'object') return
    deepest = Math.max(deepest, depth)
    if (depth > 40) return
    for (const key of Object.keys(node)) {
      if (FORBIDDEN.has(key)) forbidden = true
      walk((node as Record<string, unknown>)[key], depth + 1)
    }
  }
  walk(value, 1)
  return !forbidden && deepest <= 32 && Buffer.byteLength(JSON.stringify(value)) <= 32 * 1024
}

/** An object nested `levels` deep: `{"d":{"d":…1…}}` */
export function nested(levels: number): unknown {
  let value: unknown = 1
  for (let i = 0; i < levels; i++) value = { d: value }
  return value
}

/** An object with an own key (a computed key does not call the __proto__ setter). */
const withKey = (key: string, value: unknown) => ({ [key]: value })

const wellFormed = (maxLength: number) => fc.string({ unit: 'binary', maxLength })
const type = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,40}$/)
const timestamp = fc.oneof(
  fc.integer({ min: 0, max: MAX_TIMESTAMP - 1 }),
  fc
    .date({ min: new Date(0), max: new Date(MAX_TIMESTAMP - 1), noInvalidDate: true })
    .map((d) => d.toISOString()),
)
const properties = fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), {
  maxKeys: 6,
})

/** Valid by construction — except that jsonValue may write a `__proto__` key, which the oracle sees. */
export const validEvent: fc.Arbitrary<Generated> = fc
  .record(
    {
      id: fc.constant(FRESH_ID),
      type,
      timestamp,
      source: wellFormed(60),
      userId: wellFormed(120),
      sessionId: wellFormed(120),
      properties,
    },
    { requiredKeys: ['type'] },
  )
  .map((event) => ({
    expected:
      event.properties === undefined || propertiesValid(event.properties) ? 'accepted' : 'rejected',
    event,
  }))

const nonString = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constant([]),
  fc.constant({}),
  fc.constant(raw('1e400')),
)
const nonObject = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.string(),
  fc.constant([]),
  fc.constant(raw('-1e400')),
  fc.constant([{ type: 'x' }]),
)

/** One field of a valid event made wrong, in one of the ways API.md §1 refuses. */
const mutation: fc.Arbitrary<[string, unknown]> = fc.oneof(
  fc.tuple(
    fc.constant('type'),
    fc.oneof(
      nonString,
      fc.constantFrom('', 'bad type', 'x'.repeat(129), '_leading', '-x', 'a\u0000', 'é', 'a\ud800'),
    ),
  ),
  fc.tuple(
    fc.constant('id'),
    fc.oneof(nonString, fc.constantFrom('', 'x'.repeat(129), '\ud800', 'a\udc00b', `x${'\ud83d'}`)),
  ),
  fc.tuple(
    fc.constant('timestamp'),
    fc.oneof(
      fc.constantFrom<unknown>(
        null,
        true,
        [],
        {},
        -1,
        1.5,
        MAX_TIMESTAMP,
        raw('1e400'),
        raw('123456789012345678901234567890'),
        '2026-02-30T00:00:00Z',
        '1764151200000',
        'yesterday',
        '2026-11-26T10:00:00',
        '1969-12-31T23:59:59.999Z',
        '2100-01-01T00:00:00Z',
      ),
      fc.integer({ max: -1 }),
      fc.nat().map((n) => MAX_TIMESTAMP + n),
    ),
  ),
  fc.tuple(
    fc.constantFrom('source', 'userId', 'sessionId'),
    fc.oneof(nonString, fc.constantFrom('x'.repeat(257), '\udfff', 'a\ud800')),
  ),
  fc.tuple(
    fc.constant('properties'),
    fc.oneof(
      nonObject,
      // deeper than 61 makes the whole request deeper than any is read (64): refused whole, tested apart
      fc.integer({ min: 33, max: 61 }).map(nested),
      fc.constantFrom<unknown>(
        JSON.parse('{"a":{"b":[{"__proto__":{"polluted":true}}]}}'),
        withKey('constructor', { prototype: { polluted: true } }),
        { x: withKey('prototype', 1) },
        { big: 'y'.repeat(33 * 1024) },
        { many: Array.from({ length: 20_000 }, () => 1) },
      ),
    ),
  ),
  fc.tuple(
    fc.constantFrom('op', '__proto__', 'constructor', 'Type', '', 'receivedAt', 'transport'),
    fc.jsonValue({ maxDepth: 1 }),
  ),
)

export const invalidEvent: fc.Arbitrary<Generated> = fc.oneof(
  fc.tuple(validEvent, mutation).map(([{ event }, [key, value]]) => ({
    expected: 'rejected' as const,
    event: { ...(event as object), ...withKey(key, value) },
  })),
  nonObject.map((event) => ({ expected: 'rejected' as const, event })),
)

/** Any JSON at all: the server must answer it within the contract, whatever it is. */
export const anyJson: fc.Arbitrary<Generated> = fc
  .jsonValue({ maxDepth: 4 })
  .map((event) => ({ expected: 'any' as const, event }))

export const batch = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: validEvent },
    { weight: 3, arbitrary: invalidEvent },
    { weight: 1, arbitrary: anyJson },
  ),
  { minLength: 1, maxLength: 12 },
)

/** A WebSocket client that sends frames and waits for the one reply each frame gets (by seq), reconnecting after a close. */
export class FrameClient {
  private ws: WebSocket | undefined
  private seq = 0
  private waiting = new Map<number, (reply: Record<string, any>) => void>()
  private closed: ((code: number) => void) | undefined
  readonly replies: Array<Record<string, any>> = []

  constructor(private readonly url: string) {}

  private async open(): Promise<WebSocket> {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return this.ws
    const ws = new WebSocket(this.url)
    this.seq = 0
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as Record<string, any>
      if (message.op === 'welcome' || message.op === 'event') return
      this.replies.push(message)
      this.waiting.get(message.seq)?.(message)
      this.waiting.delete(message.seq)
    })
    ws.on('close', (code) => this.closed?.(code))
    ws.on('error', () => {})
    await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)))
    this.ws = ws
    return ws
  }

  /** Sends one frame; resolves with its reply, or with the close code when the server closes instead. */
  async send(
    data: string | Buffer,
    binary = false,
  ): Promise<{ reply?: Record<string, any>; closeCode?: number; seq: number }> {
    const ws = await this.open()
    const seq = ++this.seq
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ seq }), 20_000)
      this.waiting.set(seq, (reply) => (clearTimeout(timer), resolve({ reply, seq })))
      this.closed = (closeCode) => (clearTimeout(timer), resolve({ closeCode, seq }))
      ws.send(data, { binary })
    })
  }

  async close(): Promise<void> {
    const ws = this.ws
    if (!ws || ws.readyState === WebSocket.CLOSED) return
    const done = new Promise((resolve) => ws.once('close', resolve))
    ws.close()
    await done
  }
}

/**
 * JSON text (not values: building a value 5,000 deep and serializing it would overflow the test's own
 * stack) that is deep, wide or long: what a client can put in any position of a frame or body.
 */
export const deepOrWide: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(1, 10, 31, 33, 36, 100, 5000, 60_000),
      fc.constantFrom('[', '{"d":', '{"__proto__":'),
      fc.constantFrom('1', '"x"', '1e400', '[]', '{}'),
    )
    .map(
      ([depth, open, leaf]) => open.repeat(depth) + leaf + (open === '[' ? ']' : '}').repeat(depth),
    ),
  fc
    .constantFrom(10, 1000, 50_000)
    .map((width) => `[${Array.from({ length: width }, () => '0').join(',')}]`),
  fc
    .constantFrom(10, 1000, 20_000)
    .map((width) => `{${Array.from({ length: width }, (_, i) => `"k${i}":${i}`).join(',')}}`),
  fc.constantFrom(100, 20_000, 400_000).map((length) => JSON.stringify('s'.repeat(length))),
  fc
    .constantFrom(100, 5_000)
    .map(
      (width) =>
        `[${Array.from({ length: width }, () => '{"d":{"d":{"d":[1,2,{"__proto__":{}}]}}}').join(',')}]`,
    ),
)

/** Where `deepOrWide` goes in a WebSocket frame: every key a frame or event may have, and some it may not. */
export const framePositions: ReadonlyArray<(value: string) => string> = [
  (v) => `{"op":${v}}`,
  (v) => `{"op":"subscribe","types":${v}}`,
  (v) => `{"op":"subscribe","types":["a",${v}]}`,
  (v) => `{"op":"publish","ref":${v},"events":[{"type":"fuzz.ref"}]}`,
  (v) => `{"op":"publish","events":${v}}`,
  (v) => `{"op":"publish","events":[${v}]}`,
  (v) => `[${v}]`,
  (v) => `{"type":"fuzz.deep","properties":{"v":${v}}}`,
  (v) => `{"type":${v}}`,
  (v) => `{"type":"fuzz.id","id":${v}}`,
  (v) => `{"op":"ping","extra":${v}}`,
]

/** Where `deepOrWide` goes in a REST body, with the path it is sent to. */
export const bodyPositions: ReadonlyArray<readonly [string, (value: string) => string]> = [
  ['/v1/events', (v) => `{"type":"fuzz.deep","properties":{"v":${v}}}`],
  ['/v1/events', (v) => v],
  ['/v1/events', (v) => `{"type":"fuzz.ts","timestamp":${v}}`],
  ['/v1/events/batch', (v) => `{"events":${v}}`],
  ['/v1/events/batch', (v) => `{"events":[${v}]}`],
  ['/v1/events/batch', (v) => `{"events":[{"type":"fuzz.key"}],"more":${v}}`],
  ['/v1/dead-letters/replay', (v) => `{"route":${v}}`],
]
