import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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
