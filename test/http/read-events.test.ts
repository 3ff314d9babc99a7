import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { READS_AT_ONCE, READS_WAITING } from '../../src/http/routes/read-events.js'
import { createMemoryStorage } from '../../src/testing/memory-storage.js'
import { fakeSluice, uniqueId } from '../support/services.js'

let sluice: Awaited<ReturnType<typeof fakeSluice>>
const type = `read.${uniqueId().slice(2, 10)}`
const other = `${type}.other`
const sent: Array<{ id: string; type: string }> = []

beforeAll(async () => {
  sluice = await fakeSluice()
  // Three requests in a row: each later one is received later.
  for (const batch of [[type, type], [other], [type]]) {
    const events = batch.map((t, i) => ({
      id: `${t}-${sent.length + i}`,
      type: t,
      timestamp: 1_764_151_200_000 + sent.length + i,
      properties: { n: sent.length + i },
    }))
    const response = await sluice.app.request('/v1/events/batch', {
      method: 'POST',
      body: JSON.stringify({ events }),
      headers: { 'content-type': 'application/json' },
    })
    expect(((await response.json()) as { accepted: number }).accepted).toBe(events.length)
    sent.push(...events)
    await new Promise((resolve) => setTimeout(resolve, 15))
  }
})
afterAll(() => sluice.dispose())

const read = async (query: string) => {
  const response = await sluice.app.request(`/v1/events?${query}`)
  return {
    status: response.status,
    body: (await response.json()) as {
      events?: Array<Record<string, unknown>>
      error?: { code: string; issues?: Array<{ path: string }> }
    },
  }
}

describe('GET /v1/events', () => {
  it('answers the newest stored events first, as accepted plus receivedAt, with RFC 3339 millisecond timestamps', async () => {
    const { status, body } = await read(`type=${type}`)
    expect(status).toBe(200)
    expect(body.events!.map((e) => e.id)).toEqual([`${type}-3`, `${type}-1`, `${type}-0`])
    expect(body.events![0]).toEqual({
      id: `${type}-3`,
      type,
      timestamp: new Date(1_764_151_200_003).toISOString(),
      receivedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      properties: { n: 3 },
      transport: 'rest',
    })
  })

  it('filters by exact type, by receive time with since (RFC 3339 or epoch ms), and caps with limit', async () => {
    expect((await read(`type=${other}`)).body.events!.map((e) => e.id)).toEqual([`${other}-2`])
    const all = (await read(`type=${type}`)).body.events!
    const newest = Date.parse(all[0]!.receivedAt as string)
    expect((await read(`type=${type}&since=${newest}`)).body.events!.map((e) => e.id)).toEqual([
      `${type}-3`,
    ])
    expect(
      (
        await read(`type=${type}&since=${encodeURIComponent(new Date(newest).toISOString())}`)
      ).body.events!.map((e) => e.id),
    ).toEqual([`${type}-3`])
    expect((await read(`type=${type}&limit=2`)).body.events!.map((e) => e.id)).toEqual([
      `${type}-3`,
      `${type}-1`,
    ])
    // an instant before 1970 is a valid lower bound: everything is after it
    expect(
      (await read(`type=${type}&since=1969-12-31T23:59:59Z`)).body.events!.map((e) => e.id),
    ).toEqual([`${type}-3`, `${type}-1`, `${type}-0`])
  })

  it('reads back a type with a leading $ by its exact name, escaped or not', async () => {
    const posthog = `$${type}`
    const sentEvent = await sluice.app.request('/v1/events', {
      method: 'POST',
      body: JSON.stringify({ id: `${posthog}-0`, type: posthog }),
      headers: { 'content-type': 'application/json' },
    })
    expect(sentEvent.status).toBe(202)
    expect(
      (await read(`type=${encodeURIComponent(posthog)}`)).body.events!.map((e) => e.id),
    ).toEqual([`${posthog}-0`])
    expect((await read(`type=${posthog}`)).body.events!.map((e) => e.type)).toEqual([posthog])
    expect((await read(`type=${type}`)).body.events!.map((e) => e.type)).not.toContain(posthog)
  })

  it.each([
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['limit=ten', 'limit'],
    ['limit=1.5', 'limit'],
    ['since=yesterday', 'since'],
    ['since=2026-02-30T00:00:00Z', 'since'],
    ['since=99999999999999999', 'since'],
    ['type=', 'type'],
    ['type=bad%20type', 'type'],
    ['colour=red', 'colour'],
  ])('answers %s with 400 invalid_query naming %s', async (query, path) => {
    const { status, body } = await read(query)
    expect(status).toBe(400)
    expect(body.error!.code).toBe('invalid_query')
    expect(body.error!.issues!.map((i) => i.path)).toContain(path)
  })

  it.each([
    ['type', `${type}' OR '1'='1`],
    ['type', `${type}') OR 1=1 --`],
    ['type', `x\\' OR 1=1 --`],
    ['since', `0 OR 1=1`],
    ['since', `0); DROP TABLE raw_events; --`],
    ['limit', `1; DROP TABLE raw_events`],
    ['limit', `1 UNION SELECT 1`],
  ])('refuses an injection attempt in %s (%s) and leaves the table whole', async (name, value) => {
    const { status, body } = await read(`${name}=${encodeURIComponent(value)}`)
    expect(status).toBe(400)
    expect(body.error!.code).toBe('invalid_query')
    expect((await read(`type=${type}`)).body.events).toHaveLength(3)
  })

  it('reads two at a time, lets 32 more wait their turn, and answers 503 overloaded past that', async () => {
    const storage = createMemoryStorage()
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    let running = 0
    let most = 0
    const sink: typeof storage = {
      ...storage,
      async recent(query) {
        most = Math.max(most, ++running)
        await held
        running--
        return storage.recent(query)
      },
    }
    const gated = await fakeSluice({}, undefined, { sink })
    try {
      const reads = Array.from({ length: READS_AT_ONCE + READS_WAITING }, () =>
        Promise.resolve(gated.app.request('/v1/events')),
      )
      const refused = await gated.app.request('/v1/events')
      expect(refused.status).toBe(503)
      expect(refused.headers.get('retry-after')).toBe('1')
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('overloaded')
      release()
      expect((await Promise.all(reads)).map((response) => response.status)).toEqual(
        reads.map(() => 200),
      )
      expect(most).toBe(READS_AT_ONCE)
      expect((await gated.app.request('/v1/events')).status).toBe(200)
    } finally {
      await gated.dispose()
    }
  })
})
