import { createHash, randomUUID } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { from, lastValueFrom } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { createMemoryDedupeStore } from '../../../src/adapters/memory/memory-dedupe-store.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const heapUsed = () => (gc(), gc(), process.memoryUsage().heapUsed)

const IDS = 1_000_000

describe('memory dedupe store, its cost', () => {
  // README documents this figure (DEDUPE_MAX_ENTRIES): about 135 B per id measured, most of it the
  // id and fingerprint strings the store alone keeps once their events have settled (230 B when
  // each id had an entry object of its own).
  it('holds 1,000,000 confirmed ids in under 160 bytes of heap each, their strings included', async () => {
    const before = heapUsed()
    // Ids as JSON.parse makes them (flat strings; crypto.randomUUID's own are concatenations, larger),
    // fingerprints as normalize.ts makes them (SHA-1, base64url).
    const ids: string[] = JSON.parse(
      JSON.stringify(Array.from({ length: IDS }, () => randomUUID())),
    )
    const claims = ids.map((id) => ({
      id,
      fingerprint: createHash('sha1').update(id).digest('base64url'),
    }))
    ids.length = 0
    const store = createMemoryDedupeStore({
      ttlSeconds: 3600,
      reservationSeconds: 60,
      maxEntries: IDS,
    })
    for (let i = 0; i < IDS; i += 10_000) {
      const batch = claims.slice(i, i + 10_000)
      const receipt = await lastValueFrom(from(store.claim(batch)))
      await lastValueFrom(from(store.confirm([receipt])), { defaultValue: undefined })
    }
    claims.length = 0
    const perId = (heapUsed() - before) / IDS
    console.info(`memory dedupe store: ${store.size} ids, ${Math.round(perId)} B of heap per id`)
    expect(store.size).toBe(IDS)
    expect(perId).toBeLessThan(160)
  }, 60_000)
})
