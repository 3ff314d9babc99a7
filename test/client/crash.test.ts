import { afterEach, describe, expect, it } from 'vitest'
import { createClient } from '../../src/client.js'
import { until } from '../support/wait.js'
import { PROCESS_BACKENDS, type ClientSluice } from './support/sluice-process.js'
import { stream } from './support/stream.js'

// kill -9 of the Sluice process while the client streams, then a restart on the same ports and
// storage: the client reconnects, re-sends every frame that had no answer (and every `failed`
// event: until the dead process's dedupe lease lapses, a re-send of an id it had claimed is
// answered `failed`), and every publish settles `accepted`, each event stored exactly once.

const TYPES = ['crash.a', 'crash.b', 'crash.c', 'crash.d']
const EVENTS = 3200
const PER_PUBLISH = 20
const PRODUCERS = 8

for (const backend of PROCESS_BACKENDS)
  describe(`kill -9 of Sluice on ${backend.label} while sluice/client streams`, () => {
    const cleanups: Array<() => Promise<unknown>> = []
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
    }, 60_000)

    it(
      'every publish settles accepted after the restart, and every event is stored exactly once',
      { timeout: 180_000 },
      async () => {
        const { sluice, copies, dispose } = await backend.start()
        cleanups.push(dispose)
        let running: ClientSluice = sluice
        cleanups.push(() => running.stop('SIGKILL'))
        const client = createClient({ url: sluice.wsUrl, backoff: { initialMs: 50, maxMs: 500 } })
        const streaming = stream(client, {
          events: EVENTS,
          perPublish: PER_PUBLISH,
          producers: PRODUCERS,
          types: TYPES,
          pauseMs: 5,
        })
        // a quarter accepted and frames unanswered now: the fault strikes before another answer is read
        await until(
          () => streaming.accepted() >= EVENTS / 4 && client.stats().unansweredFrames > 0,
          60_000,
          'a quarter accepted and frames in flight',
        )
        expect(await running.stop('SIGKILL')).toBeNull()
        const atKill = streaming.accepted()
        running = await running.restart()
        await streaming.done
        await client.close()

        expect(atKill).toBeLessThan(EVENTS)
        expect(streaming.results).toHaveLength(EVENTS)
        expect(streaming.results.filter((r) => r.status !== 'accepted')).toEqual([])
        expect(client.stats().reconnects).toBeGreaterThan(0)
        expect(client.stats().resentEvents).toBeGreaterThan(0)
        const stored = await copies(TYPES)
        const ids = streaming.results.map((r) => r.id)
        expect(new Set(ids).size).toBe(EVENTS)
        expect(ids.filter((id) => stored.get(id) !== 1)).toEqual([])
        expect(stored.size).toBe(EVENTS)
      },
    )
  })
