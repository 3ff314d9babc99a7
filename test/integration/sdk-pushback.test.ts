import { randomUUID } from 'node:crypto'
import { concatMap, from, timer } from 'rxjs'
import { afterEach, describe, expect, it } from 'vitest'
import type { EventRow } from '../../src/streams/ports.js'
import { createMemoryStorage, type MemoryStorage } from '../../src/testing.js'
import {
  classicSegment,
  postHogClient,
  rudderStack,
  segmentNode,
  type PostHogCall,
  type SdkClient,
  type SdkOptions,
  type SegmentCall,
  type SegmentFamilySdk,
} from '../support/sdk-clients.js'
import { segmentCall } from '../support/sdk-messages.js'
import { fakeSluice, uniqueId } from '../support/services.js'
import { until } from '../support/wait.js'

// The two answers of API.md §9 that ask an SDK to come back later, each given by a real Sluice to
// the real SDKs: `503 storage_unavailable` while storage is down past the insert retry budget, and
// `429 overloaded` while admission is full. Each SDK must send again on its own, report no error,
// and every message must be stored once (what was stored before a 503 comes back `duplicate`).
// Storage is in memory (sluice/testing): the SDK's side is what is tested, over real HTTP.

const MESSAGES = 300
/** How long storage is down, or admission held full: inside every SDK's retries as configured. */
const OUTAGE_MS = 2000

const SEGMENT_FAMILY: ReadonlyArray<[SegmentFamilySdk, SdkOptions]> = [
  [segmentNode, {}],
  // 3 retries span ~1.5 s by default, less than the outage (README: raise retryCount)
  [classicSegment, { retryCount: 7 }],
  [rudderStack, { retryCount: 7 }],
]

interface Pushback {
  readonly status: '503' | '429'
  readonly env: Record<string, string>
  /** the storage, and what to do once Sluice listens (before the SDK sends) */
  storage(): { storage: MemoryStorage; begin(url: string): Promise<void> }
}

/** Storage that refuses every write for OUTAGE_MS from the SDK's start: inserts fail past their budget. */
const storageDown: Pushback = {
  status: '503',
  env: { INSERT_RETRY_BUDGET_MS: '100', INSERT_RETRY_INITIAL_MS: '20', INSERT_RETRY_MAX_MS: '50' },
  storage() {
    let downUntil = 0
    const storage = createMemoryStorage({ down: () => Date.now() < downUntil })
    return {
      storage,
      begin() {
        downUntil = Date.now() + OUTAGE_MS
        return Promise.resolve()
      },
    }
  },
}

/** Admission held full by a REST batch whose insert takes OUTAGE_MS: the SDK's batches are 429. */
const admissionFull: Pushback = {
  status: '429',
  env: { MAX_INFLIGHT_EVENTS: '250', BATCH_MAX_EVENTS: '200', WS_MAX_EVENTS_PER_FRAME: '200' },
  storage() {
    const inner = createMemoryStorage()
    let blocking = false
    const storage: MemoryStorage = {
      ...inner,
      write(rows: readonly EventRow[]) {
        if (!rows.some((row) => row.event.type === 'blocker')) return inner.write(rows)
        blocking = true
        return timer(OUTAGE_MS).pipe(concatMap(() => from(inner.write(rows))))
      },
    }
    return {
      storage,
      async begin(url) {
        const events = Array.from({ length: 200 }, () => ({ type: 'blocker' }))
        void fetch(`${url}/v1/events/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ events }),
        })
        // its 200 events stay in flight until their insert ends
        await until(() => blocking, 5000, 'the blocking insert')
      },
    }
  },
}

describe.each([storageDown, admissionFull])('$status from Sluice to the real SDKs', (pushback) => {
  let dispose: (() => Promise<void>) | undefined
  afterEach(async () => {
    await dispose?.()
    dispose = undefined
  })

  async function start() {
    const { storage, begin } = pushback.storage()
    const sluice = await fakeSluice({ PORT: '0', HOST: '127.0.0.1', ...pushback.env }, undefined, {
      sink: storage,
    })
    dispose = () => sluice.dispose()
    const { port } = await sluice.listen()
    const url = `http://127.0.0.1:${port}`
    await begin(url)
    const answered = async () => {
      const metric = await sluice.metrics.registry
        .getSingleMetric('sluice_http_requests_total')
        ?.get()
      return (metric?.values ?? [])
        .filter((v) => String(v.labels.status) === pushback.status)
        .reduce((sum, v) => sum + v.value, 0)
    }
    return { url, storage, answered }
  }

  async function sendAll<Call>(client: SdkClient<Call>, calls: readonly Call[]) {
    for (const call of calls) client.send(call)
    return client.close()
  }

  for (const [sdk, options] of SEGMENT_FAMILY)
    it(`${sdk.name} sends again on its own; every message stored once`, async () => {
      const { url, storage, answered } = await start()
      const run = uniqueId('pushback')
      const calls: SegmentCall[] = Array.from({ length: MESSAGES }, (_, i) =>
        segmentCall(run, 'track', i),
      )
      const errors = await sendAll(sdk.create(url, 'wk', options), calls)

      expect(errors).toEqual([])
      expect(await answered()).toBeGreaterThan(0)
      const ids = storage.rows.map((row) => row.id).filter((id) => id.startsWith(run))
      expect(ids.length).toBe(new Set(ids).size)
      expect(ids.sort()).toEqual(calls.map((c) => c.message.messageId).sort())
    })

  it('posthog-node sends again on its own; every capture stored once', async () => {
    const { url, storage, answered } = await start()
    const calls: PostHogCall[] = Array.from({ length: MESSAGES }, (_, i) => ({
      type: 'capture',
      message: { distinctId: `u-${i}`, event: 'Signed Up', uuid: randomUUID() },
    }))
    const errors = await sendAll(postHogClient(url, 'wk'), calls)

    expect(errors).toEqual([])
    expect(await answered()).toBeGreaterThan(0)
    const sent = new Set(calls.map((c) => (c.type === 'capture' ? c.message.uuid : '')))
    const ids = storage.rows.map((row) => row.id).filter((id) => sent.has(id))
    expect(ids.length).toBe(new Set(ids).size)
    expect(new Set(ids)).toEqual(sent)
  })
})
