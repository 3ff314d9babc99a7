import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { firstValueFrom, from } from 'rxjs'
import { afterAll, describe, expect, it } from 'vitest'
import { createFileRouteOutbox } from '../../src/adapters/journal/file-route-outbox.js'
import { startDownstream, type Answer } from '../support/downstream.js'
import { startProcess, type RunningSluice } from '../support/process.js'
import { uniqueId } from '../support/services.js'
import { until } from '../support/wait.js'

// Embedded mode (no Redis, no ClickHouse server): route deliveries are journaled in DATA_DIR before
// the ack, so a kill -9 in the middle of delivery loses none of them.
const running: RunningSluice[] = []
const cleanups: Array<() => Promise<void>> = []
afterAll(async () => {
  await Promise.all(running.map((sluice) => sluice.stop('SIGKILL')))
  for (const cleanup of cleanups) await cleanup()
})

const postBatch = async (url: string, events: unknown[]) => {
  const response = await fetch(`${url}/v1/events/batch`, {
    method: 'POST',
    body: JSON.stringify({ events }),
    headers: { 'content-type': 'application/json' },
  })
  return (await response.json()) as { accepted: number }
}

/** What the receiver does while the first process runs: never answer in time, or refuse. */
const before: Record<'slow' | 'down', Answer> = {
  slow: { status: 200, delayMs: 120_000 },
  down: { status: 503 },
}

describe('route deliveries in embedded mode, across kill -9', () => {
  it.each(['slow', 'down'] as const)(
    'delivers every event a route matched after a restart on the same DATA_DIR, when the receiver was %s',
    async (receiver) => {
      const dataDir = await mkdtemp(join(tmpdir(), 'sluice-journal-'))
      cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
      const arrived = new Set<string>()
      let restarted = false
      const hook = await startDownstream((ids) => {
        for (const id of ids) arrived.add(id)
        return restarted ? { status: 200 } : before[receiver]
      })
      cleanups.push(hook.close)
      const routesFile = join(dataDir, 'routes.json')
      await writeFile(
        routesFile,
        JSON.stringify({
          routes: [
            {
              name: 'kept',
              match: ['journal.*'],
              url: hook.url,
              batchMaxEvents: 50,
              batchMaxWaitMs: 20,
              concurrency: 1,
            },
          ],
        }),
      )
      // Empty values unset them: whatever the test runner's environment says, this is embedded mode.
      const env = {
        DATA_DIR: dataDir,
        ROUTES_FILE: routesFile,
        ROUTE_POLL_MS: '100',
        REDIS_URL: '',
        CLICKHOUSE_URL: '',
      }

      const first = await startProcess(env)
      running.push(first)
      const matched = Array.from({ length: 300 }, () => ({ id: uniqueId(), type: 'journal.kept' }))
      const unmatched = Array.from({ length: 30 }, () => ({ id: uniqueId(), type: 'other' }))
      for (let i = 0; i < matched.length; i += 100) {
        expect(
          (
            await postBatch(first.url, [
              ...matched.slice(i, i + 100),
              ...unmatched.slice(i / 10, i / 10 + 10),
            ])
          ).accepted,
        ).toBe(110)
      }
      await until(() => arrived.size > 0, 30_000) // a delivery is in flight (held or refused) when the process dies
      expect(await first.stop('SIGKILL')).toBe(null)
      expect(hook.delivered.size).toBe(0)

      restarted = true
      const second = await startProcess(env)
      running.push(second)
      await until(() => matched.every((event) => hook.delivered.has(event.id)), 40_000)
      expect(unmatched.filter((event) => arrived.has(event.id))).toEqual([])
      expect(await second.stop('SIGTERM')).toBe(0)
      // Every delivery was acknowledged in the journal: nothing is left for a next start to send.
      const journal = createFileRouteOutbox({ dir: join(dataDir, 'route-outbox') })
      expect(await firstValueFrom(from(journal.read('kept', 1000)))).toEqual([])
      await journal.close()
    },
    120_000,
  )
})
