import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Sluice } from '../../src/app/create-sluice.js'
import { uniqueId } from '../support/services.js'

export interface IngestHarness {
  readonly sluice: Sluice
  dispose(): Promise<void>
}

interface BatchBody {
  accepted: number
  duplicates: number
  rejected: number
  failed: number
  results: Array<{ index: number; id?: string; status: string; conflict?: boolean }>
}

/**
 * The promise of API.md §2 end to end, through the REST surface into real storage: run against
 * Redis + a ClickHouse server, and against the embedded defaults (in-process store + chDB).
 */
export function ingestContract(name: string, setup: () => Promise<IngestHarness>): void {
  describe(`${name}: ingest end to end`, () => {
    let harness: IngestHarness
    beforeAll(async () => {
      harness = await setup()
    }, 60_000)
    afterAll(() => harness?.dispose(), 60_000)

    const batch = async (events: unknown[]): Promise<BatchBody> => {
      const response = await harness.sluice.app.request('/v1/events/batch', {
        method: 'POST',
        body: JSON.stringify({ events }),
        headers: { 'content-type': 'application/json' },
      })
      expect(response.status).toBe(200)
      return (await response.json()) as BatchBody
    }

    it('stores every field, with millisecond timestamps, before it answers accepted', async () => {
      const type = `full.${uniqueId().slice(2, 10)}`
      const full = {
        id: uniqueId(),
        type,
        timestamp: '2026-11-26T10:00:00.123Z',
        source: 'web',
        userId: 'u-1',
        sessionId: 's-1',
        properties: {
          cart: { items: [{ sku: 'A-1', qty: 2 }] },
          total: 12.5,
          ok: true,
          none: null,
        },
      }
      const minimal = { id: uniqueId(), type, timestamp: 1_764_151_200_456 }
      const before = Date.now()
      const body = await batch([full, minimal])
      expect(body.results.map((r) => r.status)).toEqual(['accepted', 'accepted'])
      const stored = await harness.sluice.sink.recent({ type, limit: 10 })
      const byId = new Map(stored.map((event) => [event.id, event]))
      expect(byId.get(full.id)).toEqual({
        id: full.id,
        type,
        timestamp: Date.parse('2026-11-26T10:00:00.123Z'),
        receivedAt: expect.any(Number),
        source: 'web',
        userId: 'u-1',
        sessionId: 's-1',
        properties: full.properties,
        transport: 'rest',
      })
      expect(byId.get(minimal.id)).toEqual({
        id: minimal.id,
        type,
        timestamp: 1_764_151_200_456,
        receivedAt: expect.any(Number),
        transport: 'rest',
      })
      expect(byId.get(full.id)!.receivedAt).toBeGreaterThanOrEqual(before)
    })

    it('reads back what it stored through GET /v1/events, newest first', async () => {
      const type = `readback.${uniqueId().slice(2, 10)}`
      await batch([{ id: uniqueId(), type, timestamp: '2026-11-26T10:00:00.001Z' }])
      await new Promise((resolve) => setTimeout(resolve, 5))
      const last = {
        id: uniqueId(),
        type,
        timestamp: '2026-11-26T10:00:00.002Z',
        properties: { n: 2 },
      }
      await batch([last])
      const response = await harness.sluice.app.request(`/v1/events?type=${type}&limit=1`)
      expect(response.status).toBe(200)
      const body = (await response.json()) as { events: Array<Record<string, unknown>> }
      expect(body.events).toEqual([
        { ...last, receivedAt: expect.stringMatching(/Z$/), transport: 'rest' },
      ])
    })

    it('stores an id once whether it repeats in one batch, in another batch, or in another request', async () => {
      const id = uniqueId()
      const first = await batch([
        { id, type: 'once' },
        { id, type: 'once' },
      ])
      expect(first.results.map((r) => r.status)).toEqual(['accepted', 'duplicate'])
      const [again, concurrent] = await Promise.all([
        batch([{ id, type: 'once' }]),
        batch([{ id, type: 'once' }]),
      ])
      expect([...again.results, ...concurrent.results].map((r) => r.status)).toEqual([
        'duplicate',
        'duplicate',
      ])
      const single = await harness.sluice.app.request('/v1/events', {
        method: 'POST',
        body: JSON.stringify({ id, type: 'once' }),
        headers: { 'content-type': 'application/json' },
      })
      expect(await single.json()).toEqual({ index: 0, id, status: 'duplicate' })
      expect(await harness.sluice.sink.count({ ids: [id] })).toBe(1)
    })

    it('answers a 1,000-event batch once all 1,000 are stored, and the same batch again with 1,000 duplicates', async () => {
      const type = `thousand.${uniqueId().slice(2, 10)}`
      const events = Array.from({ length: 1000 }, (_, i) => ({
        id: `${type}-${i}`,
        type,
        properties: { i },
      }))
      const first = await batch(events)
      expect(first).toMatchObject({ accepted: 1000, duplicates: 0, rejected: 0, failed: 0 })
      expect(first.results.map((r) => r.index)).toEqual(events.map((_, i) => i))
      expect(await harness.sluice.sink.count({ type })).toBe(1000)
      const second = await batch(events)
      expect(second).toMatchObject({ accepted: 0, duplicates: 1000 })
      expect(await harness.sluice.sink.count({ type })).toBe(1000)
    })

    it('takes 10,000 events in batches of 1,000 sent at once, and stores all of them once', async () => {
      const type = `tenk.${uniqueId().slice(2, 10)}`
      const batches = Array.from({ length: 10 }, (_, b) =>
        Array.from({ length: 1000 }, (_, i) => ({ id: `${type}-${b}-${i}`, type })),
      )
      const bodies = await Promise.all(batches.map(batch))
      expect(bodies.reduce((n, body) => n + body.accepted, 0)).toBe(10_000)
      expect(await harness.sluice.sink.count({ type })).toBe(10_000)
      expect(await harness.sluice.sink.count({ type, final: true })).toBe(10_000)
    }, 60_000)
  })
}
