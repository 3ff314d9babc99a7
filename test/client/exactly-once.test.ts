import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createClient, type ClientEvent } from '../../src/client.js'
import { loadConfig } from '../../src/app/config.js'
import { createSluice, type Sluice } from '../../src/app/create-sluice.js'
import { serverSluice, silent, uniqueId } from '../support/services.js'

// 50,000 events through one client, over many concurrent publishes, half of them without ids (the
// client assigns those): every one accepted, and each stored once — counted in storage by id,
// before any merge. On Redis and the ClickHouse server, and on the embedded defaults.

const EVENTS = 50_000
const PER_PUBLISH = 100

const stops: Array<() => Promise<void>> = []
afterAll(async () => {
  for (const stop of stops) await stop()
}, 60_000)

const STORAGES = {
  async 'Redis and the ClickHouse server'(): Promise<Sluice> {
    const sluice = await serverSluice({ HOST: '127.0.0.1' })
    stops.push(() => sluice.dispose())
    return sluice
  },
  async 'the embedded defaults'(): Promise<Sluice> {
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-client-'))
    const sluice = await createSluice(
      loadConfig({
        HOST: '127.0.0.1',
        WS_PORT: '0',
        PORT: '0',
        DATA_DIR: dataDir,
        INSERT_BATCH_MAX_WAIT_MS: '5',
        LOG_LEVEL: 'silent',
      }),
      { logger: silent },
    )
    stops.push(async () => {
      await sluice.stop()
      rmSync(dataDir, { recursive: true, force: true })
    })
    return sluice
  },
}

for (const [storage, start] of Object.entries(STORAGES))
  describe(`on ${storage}`, () => {
    it(
      `${EVENTS} events over ${EVENTS / PER_PUBLISH} concurrent publishes, half without ids: all accepted, each stored once`,
      { timeout: 240_000 },
      async () => {
        const sluice = await start()
        const { wsPort } = await sluice.listen()
        const client = createClient({ url: `ws://127.0.0.1:${wsPort}` })
        const run = uniqueId('once')
        const type = `client_once_${run.slice(-8)}`
        const publishes = Array.from({ length: EVENTS / PER_PUBLISH }, (_, p) =>
          client.publish(
            Array.from({ length: PER_PUBLISH }, (_, i): ClientEvent => {
              const n = p * PER_PUBLISH + i
              return n % 2 === 0
                ? { id: `${run}-${n}`, type, properties: { n } }
                : { type, properties: { n } }
            }),
          ),
        )
        const results = (await Promise.all(publishes)).flat()
        await client.close()
        expect(results).toHaveLength(EVENTS)
        expect(results.filter((r) => r.status !== 'accepted')).toEqual([])
        const ids = results.map((r) => r.id)
        expect(new Set(ids).size).toBe(EVENTS)
        expect(client.stats()).toMatchObject({ reconnects: 0, timers: 0, inflightEvents: 0 })

        // Raw rows (no FINAL): a second copy of any id would show here.
        expect(await sluice.sink.count({ type })).toBe(EVENTS)
        const stored = await sluice.sink.byIds(ids)
        const copies = new Map<string, number>()
        for (const event of stored) copies.set(event.id, (copies.get(event.id) ?? 0) + 1)
        expect(copies.size).toBe(EVENTS)
        expect([...copies.values()].filter((n) => n !== 1)).toEqual([])
      },
    )
  })
