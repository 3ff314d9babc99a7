import { afterEach, describe, expect, it } from 'vitest'
import { createClient, type PublishResult } from '../../src/client.js'
import { uniqueId } from '../support/services.js'
import { until } from '../support/wait.js'
import { PROCESS_BACKENDS, type ClientSluice } from './support/sluice-process.js'

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
        const run = uniqueId('crash').slice(-12)
        let next = 0
        let accepted = 0
        const results: PublishResult[] = []
        const producer = async () => {
          while (next < EVENTS) {
            const first = next
            next += PER_PUBLISH
            const answer = await client.publish(
              Array.from({ length: PER_PUBLISH }, (_, i) => ({
                // half with the caller's ids, half with the client's
                ...((first + i) % 2 === 0 && { id: `${run}-${first + i}` }),
                type: TYPES[(first + i) % TYPES.length]!,
                properties: { n: first + i },
              })),
            )
            accepted += answer.filter((r) => r.status === 'accepted').length
            results.push(...answer)
            // a steady stream rather than a burst, so that the kill lands mid-stream
            await new Promise((resolve) => setTimeout(resolve, 5))
          }
        }
        const producing = Promise.all(Array.from({ length: PRODUCERS }, producer))
        await until(() => accepted >= EVENTS / 4, 60_000, 'a quarter accepted')
        expect(await running.stop('SIGKILL')).toBeNull()
        const atKill = accepted
        running = await running.restart()
        await producing
        await client.close()

        expect(atKill).toBeLessThan(EVENTS)
        expect(results).toHaveLength(EVENTS)
        expect(results.filter((r) => r.status !== 'accepted')).toEqual([])
        expect(client.stats().reconnects).toBeGreaterThan(0)
        expect(client.stats().resentEvents).toBeGreaterThan(0)
        const stored = await copies(TYPES)
        const ids = results.map((r) => r.id)
        expect(new Set(ids).size).toBe(EVENTS)
        expect(ids.filter((id) => stored.get(id) !== 1)).toEqual([])
        expect(stored.size).toBe(EVENTS)
      },
    )
  })
