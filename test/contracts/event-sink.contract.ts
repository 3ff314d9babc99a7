import { randomUUID } from 'node:crypto'
import { from, lastValueFrom } from 'rxjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AcceptedEvent } from '../../src/streams/event.js'
import type { EventSink } from '../../src/streams/ports.js'

/** A sink that can also read back what it stored (GET /v1/events needs the same). */
export interface StoredEventSink extends EventSink {
  recent(query: {
    readonly type?: string
    readonly sinceMs?: number
    readonly limit: number
    readonly maxPropertiesBytes?: number
  }): Promise<AcceptedEvent[]>
  count(query?: {
    readonly ids?: readonly string[]
    readonly type?: string
    readonly final?: boolean
  }): Promise<number>
  /** what an in-process dedupe store reads when an id from before its start is sent again */
  byIds(ids: readonly string[]): Promise<AcceptedEvent[]>
}

export interface EventSinkHarness {
  readonly sink: StoredEventSink
  /** the same storage, pointed at a table that does not exist: a store that refuses every batch */
  readonly missingTable: EventSink
  /** a sink whose storage cannot be reached (connection refused) */
  readonly unreachable: EventSink
  /** runs every merge now (OPTIMIZE TABLE … FINAL): what a background merge would eventually leave */
  mergeAll(): Promise<void>
  close(): Promise<void>
}

const TIMEOUT_MS = 60_000
const at = (iso: string) => Date.parse(iso)
const write = (sink: EventSink, events: readonly AcceptedEvent[]) =>
  lastValueFrom(from(sink.write(events.map((event) => ({ event })))), { defaultValue: undefined })
const failureOf = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.fail('the write should have failed'),
    (error: unknown) => error,
  )

/** A type unique to one test, so tests sharing a table do not see each other's rows. */
const uniqueType = (label: string) => `${label}.${randomUUID().slice(0, 8)}`

function event(overrides: Partial<AcceptedEvent> = {}): AcceptedEvent {
  return {
    id: randomUUID(),
    type: 'page_view',
    timestamp: at('2026-11-26T10:00:00.123Z'),
    receivedAt: at('2026-11-26T10:00:01.456Z'),
    transport: 'rest',
    ...overrides,
  }
}

/**
 * What every event sink must do (ports.ts, API.md §2 and §5): one insert per batch, every field
 * and millisecond kept, a replayed id collapsing to one row, a retry policy that tells a refused
 * batch from an outage.
 */
export function eventSinkContract(name: string, setup: () => Promise<EventSinkHarness>): void {
  describe(`${name} (EventSink contract)`, () => {
    let harness: EventSinkHarness
    beforeAll(async () => {
      harness = await setup()
    }, TIMEOUT_MS)
    afterAll(() => harness?.close(), TIMEOUT_MS)

    it('stores every field, with millisecond timestamps', async () => {
      const type = uniqueType('full')
      const stored = event({
        type,
        source: 'web',
        userId: 'u-42',
        sessionId: 's-7',
        properties: {
          path: '/pricing',
          items: [{ sku: 'a', qty: 2 }],
          nested: { ok: true, none: null },
          text: 'it\'s \\ "quoted"\n',
        },
        transport: 'ws',
      })
      await write(harness.sink, [stored])
      expect(await harness.sink.recent({ type, limit: 10 })).toEqual([stored])
      const [back] = await harness.sink.recent({ type, limit: 10 })
      expect(new Date(back!.timestamp).toISOString()).toBe('2026-11-26T10:00:00.123Z')
      expect(new Date(back!.receivedAt).toISOString()).toBe('2026-11-26T10:00:01.456Z')
    })

    it('keeps the bytes that separate rows and fields (tab, newline, CR, NUL, backslash) in every string', async () => {
      const type = uniqueType('separators')
      const awkward = 'a\tb\nc\rd\0e\\f\\tg\\\\'
      const stored = event({
        id: `id-${randomUUID()}-${awkward}`,
        type,
        source: awkward,
        userId: awkward,
        sessionId: awkward,
        properties: { [awkward]: awkward, 'é✓😀': '\\n' },
      })
      await write(harness.sink, [stored, event({ type })])
      const back = await harness.sink.recent({ type, limit: 10 })
      expect(back).toHaveLength(2)
      expect(back.find((e) => e.id === stored.id)).toStrictEqual(stored)
    })

    it('stores the serialized properties it is handed, and serializes the events it is not', async () => {
      const type = uniqueType('texts')
      const [given, plain] = [
        event({ type, properties: { b: 1, a: [true] } }),
        event({ type, properties: { z: 'z' } }),
      ]
      await lastValueFrom(
        from(
          harness.sink.write([
            { event: given, propertiesText: '{"a":[true],"b":1}' },
            { event: plain },
          ]),
        ),
        { defaultValue: undefined },
      )
      const back = await harness.sink.recent({ type, limit: 10 })
      expect(back.find((e) => e.id === given.id)).toStrictEqual(given)
      expect(back.find((e) => e.id === plain.id)).toStrictEqual(plain)
    })

    it('reads absent optional fields back as absent', async () => {
      const type = uniqueType('bare')
      const bare = event({ type })
      await write(harness.sink, [bare])
      const [back] = await harness.sink.recent({ type, limit: 10 })
      expect(back).toStrictEqual(bare)
      expect(Object.keys(back!).sort()).toEqual([
        'id',
        'receivedAt',
        'timestamp',
        'transport',
        'type',
      ])
    })

    it('keeps an empty properties object', async () => {
      const type = uniqueType('empty')
      const stored = event({ type, properties: {} })
      await write(harness.sink, [stored])
      expect(await harness.sink.recent({ type, limit: 10 })).toEqual([stored])
    })

    it('collapses the same id written twice to one row, even with other timestamps', async () => {
      const type = uniqueType('replay')
      const first = event({
        type,
        timestamp: at('2026-11-26T10:00:00.000Z'),
        receivedAt: at('2026-11-26T10:00:00.000Z'),
      })
      const replay = {
        ...first,
        timestamp: at('2026-11-27T23:59:59.999Z'),
        receivedAt: at('2026-11-28T00:00:00.500Z'),
      }
      await write(harness.sink, [first])
      await write(harness.sink, [replay])
      expect(await harness.sink.count({ ids: [first.id], final: true })).toBe(1)
      expect(await harness.sink.recent({ type, limit: 10 })).toHaveLength(1)
      // FINAL merges across partitions at read time; a background merge does not. This catches a
      // table partitioned by time, where the two copies would live on in two partitions.
      await harness.mergeAll()
      expect(await harness.sink.count({ ids: [first.id] })).toBe(1)
    })

    it('stores 10,000 events written in batches of 1,000', { timeout: TIMEOUT_MS }, async () => {
      const type = uniqueType('bulk')
      const events = Array.from({ length: 10_000 }, (_, i) => event({ type, properties: { i } }))
      for (let i = 0; i < events.length; i += 1000)
        await write(harness.sink, events.slice(i, i + 1000))
      expect(await harness.sink.count({ type })).toBe(10_000)
      expect(await harness.sink.count({ type, final: true })).toBe(10_000)
    })

    it(
      'takes batches written concurrently (INSERT_CONCURRENCY)',
      { timeout: TIMEOUT_MS },
      async () => {
        const type = uniqueType('concurrent')
        const batches = Array.from({ length: 8 }, () =>
          Array.from({ length: 250 }, () => event({ type })),
        )
        await Promise.all(batches.map((batch) => write(harness.sink, batch)))
        expect(await harness.sink.count({ type })).toBe(2000)
      },
    )

    it('completes an empty batch without writing', async () => {
      await expect(write(harness.sink, [])).resolves.toBeUndefined()
    })

    it('answers recent() newest first by received time, then by event time', async () => {
      const type = uniqueType('order')
      const [a, b, c, d] = [
        event({
          type,
          receivedAt: at('2026-11-26T10:00:00.001Z'),
          timestamp: at('2026-11-26T09:00:00.000Z'),
        }),
        event({
          type,
          receivedAt: at('2026-11-26T10:00:00.003Z'),
          timestamp: at('2026-11-26T09:00:00.000Z'),
        }),
        event({
          type,
          receivedAt: at('2026-11-26T10:00:00.003Z'),
          timestamp: at('2026-11-26T09:00:00.002Z'),
        }),
        event({
          type,
          receivedAt: at('2026-11-26T10:00:00.002Z'),
          timestamp: at('2026-11-26T09:00:00.000Z'),
        }),
      ]
      await write(harness.sink, [a, b, c, d])
      expect((await harness.sink.recent({ type, limit: 10 })).map((e) => e.id)).toEqual([
        c.id,
        b.id,
        d.id,
        a.id,
      ])
      expect((await harness.sink.recent({ type, limit: 2 })).map((e) => e.id)).toEqual([c.id, b.id])
    })

    it('answers recent() with the newest events whose properties fit maxPropertiesBytes, and always the newest', async () => {
      const type = uniqueType('sized')
      // properties of 1,000 bytes each as stored: {"p":"x…"} is 8 bytes around the string
      const sized = (ms: string) =>
        event({ type, receivedAt: at(ms), properties: { p: 'x'.repeat(992) } })
      const [a, b, c] = [
        sized('2026-11-26T10:00:00.001Z'),
        sized('2026-11-26T10:00:00.002Z'),
        sized('2026-11-26T10:00:00.003Z'),
      ]
      await write(harness.sink, [a, b, c])
      const ids = async (maxPropertiesBytes: number) =>
        (await harness.sink.recent({ type, limit: 10, maxPropertiesBytes })).map((e) => e.id)
      expect(await ids(3000)).toEqual([c.id, b.id, a.id])
      expect(await ids(2999)).toEqual([c.id, b.id])
      expect(await ids(1000)).toEqual([c.id])
      expect(await ids(1)).toEqual([c.id])
    })

    it(
      'reads events back by id, however many ids are asked for at once',
      { timeout: TIMEOUT_MS },
      async () => {
        const type = uniqueType('byid')
        const events = Array.from({ length: 450 }, (_, i) => event({ type, properties: { i } }))
        await write(harness.sink, events)
        const asked = [...events.map((e) => e.id), `${type}-never-stored`]
        const byId = new Map((await harness.sink.byIds(asked)).map((e) => [e.id, e]))
        expect(byId.size).toBe(450)
        expect(byId.get(events[449]!.id)).toEqual(events[449])
        expect(await harness.sink.byIds([])).toEqual([])
      },
    )

    it('answers recent() across types, newest first', async () => {
      // received in 2099: newer than anything the other tests store
      const events = [0, 1, 2].map((i) =>
        event({ type: uniqueType(`any${i}`), receivedAt: at(`2099-01-01T00:00:00.00${i}Z`) }),
      )
      await write(harness.sink, events)
      expect((await harness.sink.recent({ limit: 3 })).map((e) => e.id)).toEqual(
        events.map((e) => e.id).reverse(),
      )
    })

    it('filters recent() by type and by received time, the bound included', async () => {
      const type = uniqueType('since')
      const other = uniqueType('since')
      const old = event({ type, receivedAt: at('2026-11-26T10:00:00.000Z') })
      const edge = event({ type, receivedAt: at('2026-11-26T11:00:00.000Z') })
      const late = event({ type, receivedAt: at('2026-11-26T12:00:00.000Z') })
      await write(harness.sink, [
        old,
        edge,
        late,
        event({ type: other, receivedAt: at('2026-11-26T12:00:00.000Z') }),
      ])
      const since = await harness.sink.recent({
        type,
        sinceMs: at('2026-11-26T11:00:00.000Z'),
        limit: 10,
      })
      expect(since.map((e) => e.id)).toEqual([late.id, edge.id])
      expect(
        await harness.sink.recent({ type, sinceMs: at('2026-11-26T11:00:00.001Z'), limit: 10 }),
      ).toEqual([late])
    })

    it('reads an injection attempt in the type as a plain value: nothing found, nothing broken', async () => {
      const type = uniqueType('victim')
      await write(harness.sink, [event({ type })])
      for (const attack of [
        "x' OR 1=1 --",
        "x\\' OR 1=1 --",
        "x'; DROP TABLE raw_events; --",
        'x\\',
        "x'\n OR 1=1",
      ]) {
        expect(await harness.sink.recent({ type: attack, limit: 10 })).toEqual([])
        expect(await harness.sink.count({ type: attack })).toBe(0)
      }
      expect(await harness.sink.recent({ type, limit: 10 })).toHaveLength(1)
    })

    it('stores a type with every character the schema allows, and finds it', async () => {
      const type = `${uniqueType('A0')}_.:/-x`
      await write(harness.sink, [event({ type })])
      expect(await harness.sink.recent({ type, limit: 10 })).toHaveLength(1)
    })

    it('calls a batch refused by storage (a missing table) final', async () => {
      const error = await failureOf(write(harness.missingTable, [event()]))
      expect(harness.missingTable.isRetriable(error)).toBe(false)
    })

    it('calls storage that cannot be reached retriable', async () => {
      const error = await failureOf(write(harness.unreachable, [event()]))
      expect(harness.unreachable.isRetriable(error)).toBe(true)
    })
  })
}
